"""--device: 'auto' picks CUDA when torch sees a GPU, else the CPU; anything else is checked."""
import re

from ..errors import InputError

DEVICE_HELP = "auto (a CUDA GPU when torch sees one, else cpu), cpu, cuda or cuda:N"


def resolve_device(text: str) -> str:
    """The torch device string to use for `--device text`, or a one-line error."""
    import torch
    text = (text or "auto").strip().lower()
    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if text == "cpu":
        return "cpu"
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if not match:
        raise InputError("--device", f"'{text}' is not a device", f"use {DEVICE_HELP}")
    if not torch.cuda.is_available():
        why = "this torch has no CUDA support" if torch.version.cuda is None else "torch sees no CUDA GPU"
        raise InputError("--device", f"'{text}' asked for, but {why} (torch {torch.__version__})",
                         "use --device auto or cpu, or install a CUDA build of torch on a GPU machine")
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise InputError("--device", f"'{text}' asked for, but torch sees {torch.cuda.device_count()} GPU(s)",
                         f"use cuda:0 to cuda:{torch.cuda.device_count() - 1}, or --device auto")
    return text


def describe(device: str) -> str:
    """'cpu' or 'cuda:0 (NVIDIA H100 80GB HBM3)'."""
    if not device.startswith("cuda"):
        return device
    import torch
    return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
