"""The user's H&E image as the importers see it: its size (from the header only), its he-raw name, and
whether it shows anything at all."""
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.image_reader import ImageReader
from ..io.sample import HE_RAW, IMAGE_ENDINGS
from ..io.slides import SLIDE_SUFFIXES

# grey levels per channel that a blank image spans (JPEG ringing on one colour stays well inside); any
# stained tissue, or even bare glass beside a slide's label, spans far more
BLANK_SPAN = 8
SAMPLED_ROWS = 16     # rows of a large image looked at, from the middle outwards, until one shows contrast
WHOLE_PIXELS = 4 << 20  # a level this small is read whole

# he-raw names the sample locator (io/sample.py) accepts, by the user's file ending (longest ending first)
HE_RAW_NAMES = ((".ome.tiff", HE_RAW + ".ome.tif"),) + tuple((e, HE_RAW + e) for e in IMAGE_ENDINGS)


def he_raw_name(path) -> str:
    name = Path(path).name.lower()
    for ending, he_raw in HE_RAW_NAMES:
        if name.endswith(ending):
            return he_raw
    raise InputError(path, "unsupported image format",
                     "give the H&E as TIFF/OME-TIFF/BigTIFF, JPEG, PNG or a slide OpenSlide reads (.svs, .ndpi, ...)")


def image_size(path) -> tuple:
    """(width, height) of pyramid level 0, read from the file's header: a whole slide is never decoded."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "image file is missing", "give the path of the H&E image")
    he_raw_name(path)
    try:
        if path.name.lower().endswith(SLIDE_SUFFIXES):
            with ImageReader(path) as reader:
                return reader.shape[1], reader.shape[0]
        if path.name.lower().endswith((".tif", ".tiff", ".btf")):
            import tifffile
            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                axes, shape = series.axes, series.shape
                return int(shape[axes.index("X")]), int(shape[axes.index("Y")])
        from PIL import Image
        Image.MAX_IMAGE_PIXELS = None  # a full-resolution H&E is legitimately huge
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                return img.size
    except InputError:
        raise
    except Exception as exc:  # an unreadable header is a user-fixable input problem
        raise InputError(path, f"image cannot be read ({type(exc).__name__})",
                         "re-export the H&E as TIFF, JPEG or PNG") from None


def check_not_blank(path) -> None:
    """Refuse an image in which every pixel has one colour (all black, all white): there is no tissue to learn
    from, and the mask step would only find that out after the import said it worked."""
    lo, hi = np.full(3, 255), np.zeros(3, int)
    for rgb in _sampled_pixels(Path(path)):
        lo = np.minimum(lo, rgb.reshape(-1, 3).min(0))
        hi = np.maximum(hi, rgb.reshape(-1, 3).max(0))
        if (hi - lo).max() > BLANK_SPAN:
            return
    colour = "black" if hi.max() <= 32 else "white" if lo.min() >= 223 else f"the colour {tuple(int(v) for v in lo)}"
    raise InputError(path, f"image is blank: every pixel is {colour}, so it shows no tissue",
                     "give the H&E image of this section (an all-black or all-white file is a placeholder or a "
                     "failed export)")


def _sampled_pixels(path: Path):
    """The smallest copy the file holds (a JPEG decoded at 1/8), whole when small, else row by row."""
    if path.name.lower().endswith((".jpg", ".jpeg")):
        yield _jpeg_eighth(path)
        return
    with ImageReader(path) as reader:
        level = reader.level(len(reader.levels) - 1)
        h, w = level.shape
        if h * w <= WHOLE_PIXELS:
            yield level.read_rows(0, h)
            return
        rows = np.linspace(0, h - 1, SAMPLED_ROWS).astype(int)
        for y in sorted(rows, key=lambda y: abs(y - h / 2)):  # tissue is most often in the middle
            yield level.read_rows(int(y), int(y) + 1)


def _jpeg_eighth(path: Path) -> np.ndarray:
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                img.draft("RGB", (max(1, img.size[0] // 8), max(1, img.size[1] // 8)))  # DCT scaling: cheap
                return np.asarray(img.convert("RGB"))
    except Exception as exc:  # a damaged file is the user's to fix
        raise InputError(path, f"image cannot be read ({type(exc).__name__})",
                         "re-export the H&E as TIFF, JPEG or PNG") from None
