"""Whole-slide images: pyramid levels, OpenSlide's formats, and the µm per pixel a slide records.

A scanner's slide holds the scan at full resolution (level 0) and smaller
copies of it (levels 1, 2, ...). The rescale step reads the coarsest level
that is still at least as fine as its target, so a 0.25 µm/px scan with a
0.5 µm/px level is never decoded at 0.25.
"""
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..errors import InputError

# what OpenSlide reads beside TIFF (a .tif/.tiff, Philips and generic tiled TIFF included, goes to tifffile)
SLIDE_SUFFIXES = (".svs", ".ndpi", ".vms", ".vmu", ".scn", ".mrxs", ".svslide", ".bif", ".czi")
INSTALL = 'install OpenSlide\'s wheels: pip install "pixel2gene[slides]"'
AGREE = 0.02  # a scan's own µm/px and pixel-size-raw.txt may differ this much (rounding in either)
OME_UNITS_UM = {"µm": 1.0, "um": 1.0, "\u03bcm": 1.0, "nm": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6, "Å": 1e-4,
                "pm": 1e-6}


@dataclass(frozen=True)
class PixelSize:
    x: float
    y: float
    source: str   # where in the file it was read, in words


def consistent_levels(shapes) -> List[int]:
    """Indices of the levels that shrink level 0 evenly ((h, w) per level, level 0 first).

    A level is kept when both its sides are level 0's over one downsample, to within the pixel that rounding
    level sizes gives; anything else (a thumbnail or label stored as a level) is never read.
    """
    h0, w0 = shapes[0]
    keep, last = [0], (h0, w0)
    for i, (h, w) in enumerate(shapes[1:], 1):
        ds = (h0 / h + w0 / w) / 2
        if h < last[0] and w < last[1] and abs(h0 / ds - h) <= 1 and abs(w0 / ds - w) <= 1:
            keep.append(i)
            last = (h, w)
    return keep


def pick_level(levels, out_shape) -> int:
    """The coarsest level with at least the output's pixels on both axes: the one closest to, and not
    coarser than, the target µm/px. One pixel short counts as enough: level sizes are rounded."""
    best = 0
    for i, (h, w) in enumerate(levels):
        if h >= out_shape[0] - 1 and w >= out_shape[1] - 1:
            best = i
    return best


def over_white(rgba: np.ndarray) -> np.ndarray:
    """RGBA (straight alpha) to RGB on white glass: OpenSlide leaves unscanned areas transparent."""
    alpha = rgba[..., 3:4]
    if alpha.min(initial=255) == 255:
        return np.ascontiguousarray(rgba[..., :3])
    a = alpha.astype(np.uint32)
    rgb = (rgba[..., :3] * a + 255 * (255 - a) + 127) // 255
    return rgb.astype(np.uint8)


def mirax_data(path) -> Path:
    """The folder a MIRAX slide (.mrxs) reads beside it: its own name without the ending."""
    return Path(path).with_suffix("")


def _beside_its_data(path: Path) -> Path:
    """The path to open. A pipeline task stages a .mrxs and its folder side by side (as links, or as downloaded
    copies whose real places differ); p2g-import links he-raw.mrxs to the user's slide, whose folder lies beside
    the real file only."""
    if mirax_data(path).is_dir():
        return path
    return path.resolve()


class OpenSlideLevels:
    """A slide OpenSlide reads: its consistent levels, rows of any level, and its recorded µm/px."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            import openslide
        except ImportError:
            raise InputError(path, f"reading {self.path.suffix} slides needs OpenSlide", INSTALL) from None
        try:
            self._slide = openslide.OpenSlide(str(_beside_its_data(self.path)))
        except (openslide.OpenSlideError, OSError) as exc:
            raise InputError(path, f"slide does not open ({type(exc).__name__}: {exc})",
                             "check that it is a complete slide file (with its data folder for .mrxs)") from None
        shapes = [(h, w) for w, h in self._slide.level_dimensions]
        self._index = consistent_levels(shapes)
        self.levels = [shapes[i] for i in self._index]
        self.shape = self.levels[0]
        self.pixel_size = openslide_pixel_size(self._slide.properties)

    def read_rows(self, y0, y1, level=0):
        """Whole-width rows of a level; the request's origin is in level-0 pixels, so a level whose
        downsample is not a whole number starts a fraction of a pixel off (OpenSlide interpolates)."""
        index = self._index[level]
        y = int(round(y0 * self._slide.level_downsamples[index]))
        region = self._slide.read_region((0, y), index, (self.levels[level][1], y1 - y0))
        return over_white(np.asarray(region))

    def close(self):
        self._slide.close()


def _number(text) -> Optional[float]:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def openslide_pixel_size(properties) -> Optional[PixelSize]:
    x, y = _number(properties.get("openslide.mpp-x")), _number(properties.get("openslide.mpp-y"))
    if x is None:
        return None
    return PixelSize(x, y or x, "OpenSlide's openslide.mpp-x/mpp-y")


def ome_pixel_size(xml: str) -> Optional[PixelSize]:
    """PhysicalSizeX/Y of the first image, in µm (OME's default unit when none is given)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    pixels = next((e for e in root.iter() if e.tag.endswith("}Pixels") or e.tag == "Pixels"), None)
    if pixels is None:
        return None
    sizes = []
    for axis in ("X", "Y"):
        value = _number(pixels.get(f"PhysicalSize{axis}"))
        factor = OME_UNITS_UM.get(pixels.get(f"PhysicalSize{axis}Unit", "µm"))
        sizes.append(value * factor if value is not None and factor is not None else None)
    if sizes[0] is None:
        return None
    return PixelSize(sizes[0], sizes[1] or sizes[0], "OME-XML PhysicalSizeX/Y")


def aperio_pixel_size(description: str) -> Optional[PixelSize]:
    m = re.search(r"\|\s*MPP\s*=\s*([0-9.eE+-]+)", description or "")
    value = _number(m.group(1)) if m else None
    return PixelSize(value, value, "Aperio ImageDescription MPP") if value else None


def tiff_pixel_size(tif) -> Optional[PixelSize]:
    """What an OME-TIFF or an Aperio-style TIFF records; a plain TIFF's resolution tags are left alone (a
    72 dpi default is no measurement)."""
    if tif.is_ome:
        return ome_pixel_size(tif.ome_metadata or "")
    if tif.is_svs:
        return aperio_pixel_size(tif.pages[0].description)
    return None


def raw_pixel_size(given: Path, recorded: Optional[PixelSize], image: Path):
    """(µm per pixel of he-raw, where it came from): pixel-size-raw.txt when present, else the slide's own.

    Both present and more than 2 % apart is an error: one of them is wrong, and only the user knows which.
    """
    from .scalars import read_positive_number
    if recorded is not None and abs(recorded.y / recorded.x - 1) > AGREE:
        raise InputError(image, f"records non-square pixels ({recorded.x:g} x {recorded.y:g} µm, {recorded.source})",
                         "resample the scan to square pixels")
    if not given.exists() and recorded is None:
        raise InputError(given, f"file is missing and {image.name} records no µm per pixel",
                         "write the scan's µm per pixel (one number) into it")
    if given.exists():
        value = read_positive_number(given)
        if recorded is not None and abs(value / recorded.x - 1) > AGREE:
            raise InputError(given, f"says {value:g} µm/px but {image} records {recorded.x:g} µm/px "
                             f"({recorded.source}), more than {AGREE:.0%} apart",
                             "correct the file, or delete it to use the slide's own value")
        return value, given.name
    return recorded.x, f"{image.name} ({recorded.source})"
