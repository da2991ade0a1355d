"""Single-number text files such as pixel-size.txt."""
import math
from pathlib import Path

from ..errors import InputError


def read_positive_number(path: Path) -> float:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file is missing", "write the value (one number) into it")
    text = path.read_text().strip()
    if not text:
        raise InputError(path, "file is empty", "write one positive number into it")
    try:
        value = float(text.split()[0])
    except ValueError:
        raise InputError(path, f"'{text[:40]}' is not a number",
                         "write one positive number into it") from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(path, f"value {value} is not a positive finite number",
                         "write the physical size in µm (> 0)")
    return value
