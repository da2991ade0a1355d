"""The stain-shift benchmark's shifts (bench/stain_shift.py): a fixed set, written into image files.

The Shift itself, and the random shifts colour augmentation trains on, are the
product's (pixel2gene/image/perturb.py); what only the benchmark needs is here.
"""
import cv2
import numpy as np

from pixel2gene.image.perturb import Shift

# The stain-shift benchmark's fixed set (issue #13): one kind of change each, at a size seen between labs
# and scanners: each dye up and down, exposure, another white point, a scanner's low-quality JPEG.
BENCH_SHIFTS = (
    Shift("haematoxylin x1.3", dye_scale=(1.3, 1.0)),
    Shift("haematoxylin x0.75", dye_scale=(0.75, 1.0)),
    Shift("eosin x1.3", dye_scale=(1.0, 1.3)),
    Shift("eosin x0.75", dye_scale=(1.0, 0.75)),
    Shift("brightness +20, contrast x0.85", contrast=0.85, brightness=20.0),
    Shift("warm white point", gain=(1.0, 0.95, 0.88)),
    Shift("JPEG quality 30", jpeg_quality=30),
)


def shift_image_file(src: str, dst: str, shift: Shift, rows: int = 1024) -> None:
    """Read an RGB image file, apply the shift strip by strip, write it to `dst`.

    A .png is lossless, so a colour shift is all that changes; a .jpg is written at
    the shift's JPEG quality (95 when it has none), so re-compression happens once,
    on the whole image, as a scanner would do it.
    """
    bgr = cv2.imread(src, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot read {src}")
    rgb = bgr[..., ::-1]
    out = np.empty_like(rgb)
    colour_only = Shift(shift.name, shift.dye_scale, shift.gain, shift.contrast, shift.brightness)
    for y in range(0, rgb.shape[0], rows):
        out[y:y + rows] = colour_only.apply(np.ascontiguousarray(rgb[y:y + rows]))
    if str(dst).lower().endswith(".png"):
        if shift.jpeg_quality:
            raise ValueError(f"{dst}: a JPEG re-compression shift must be written as .jpg")
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1]  # fast; the size does not matter for a scratch copy
    else:
        params = [cv2.IMWRITE_JPEG_QUALITY, shift.jpeg_quality or 95]
    if not cv2.imwrite(str(dst), np.ascontiguousarray(out[..., ::-1]), params):
        raise ValueError(f"cannot write {dst}")


def slug(name: str) -> str:
    """A shift's name as a sample-folder name: 'eosin x0.75' -> 'eosin-x0.75'."""
    out = "".join(c if c.isalnum() or c == "." else "-" for c in name.lower())
    return "-".join(p for p in out.split("-") if p)
