"""Sizes checked before a step writes: pixel sizes in the wrong unit, and disks too small.

A pixel size written in nm (250 instead of 0.25) asks for an image a
thousand times wider: 750 GB for one slide. These checks stop that with a
message that names the file and the likely unit mistake.
"""
import shutil
from pathlib import Path

from ..errors import InputError

MAX_SLIDE_MM = 100.0        # no glass slide's tissue spans more than this on a side
MIN_RAW_UM = 0.02           # finer than any optical scan: the value is in mm
TARGET_UM = (0.05, 20.0)    # the method works at 0.5 µm per pixel (16 px superpixels = 8 µm)
MAX_RESCALED_SIDE = 400_000  # 200 mm at 0.5 µm per pixel
MIN_DIAMETER_UM, MAX_DIAMETER_UM = 0.5, 1000.0  # a subcellular bin .. a very coarse spot
HEADROOM = 1.05


def check_pixel_sizes(raw_shape, psize_raw: float, psize: float, raw_file, target_file) -> None:
    h, w = raw_shape
    span_mm = max(h, w) * psize_raw / 1000
    if span_mm > MAX_SLIDE_MM:
        hint = f" (in nm? {psize_raw:g} nm = {psize_raw / 1000:g} µm)" if psize_raw >= 20 else ""
        raise InputError(raw_file, f"{psize_raw:g} µm per pixel makes the {w}x{h} px image {span_mm:,.0f} mm "
                         f"wide, larger than a slide{hint}",
                         "write the scan's µm per pixel (about 0.1 to 10 for H&E scans)")
    if psize_raw < MIN_RAW_UM:
        raise InputError(raw_file, f"{psize_raw:g} µm per pixel is finer than any scanner "
                         f"(in mm? {psize_raw:g} mm = {psize_raw * 1000:g} µm)",
                         "write the scan's µm per pixel (about 0.1 to 10 for H&E scans)")
    if not TARGET_UM[0] <= psize <= TARGET_UM[1]:
        raise InputError(target_file, f"target of {psize:g} µm per pixel is outside {TARGET_UM[0]:g}-"
                         f"{TARGET_UM[1]:g}", "write 0.5 (one 16 px superpixel = 8 µm) or delete the file")
    scale = psize_raw / psize
    culprit = raw_file if 0.2 <= psize <= 2 else target_file  # a usual target: the raw size is the odd one
    if max(h, w) * scale > MAX_RESCALED_SIDE:
        raise InputError(culprit, f"rescaling {w}x{h} px from {psize_raw:g} to {psize:g} µm per pixel "
                         f"gives a {w * scale:,.0f}x{h * scale:,.0f} px image",
                         "check both pixel-size files are in µm per pixel")
    if min(h, w) * scale < 16:
        raise InputError(culprit, f"the {w}x{h} px image is {min(h, w) * psize_raw:.3g} µm on its short side, "
                         f"less than one {16 * psize:g} µm superpixel at {psize:g} µm per pixel",
                         "check both pixel-size files are in µm per pixel (the target is usually 0.5)")


def check_diameter(diameter_um: float, radius_file) -> None:
    if not MIN_DIAMETER_UM <= diameter_um <= MAX_DIAMETER_UM:
        raise InputError(radius_file, f"a bin/spot/cell diameter of {diameter_um:g} µm is implausible",
                         "write the diameter in µm that one bin spans (8 Visium HD, 55 Visium, 100 legacy ST)")


def check_free_space(folder, need_bytes: int, what: str, option: str = "--out") -> None:
    """Refuse to start writing `need_bytes` of `what` into a disk that cannot hold them."""
    p = Path(folder).resolve()
    while not p.exists():
        p = p.parent
    free = shutil.disk_usage(p).free
    if need_bytes * HEADROOM > free:
        raise InputError(folder, f"{what} needs about {need_bytes / 2**30:.1f} GiB, only {free / 2**30:.1f} GiB "
                         "is free there", f"free disk space or give {option} a folder on a bigger disk")
