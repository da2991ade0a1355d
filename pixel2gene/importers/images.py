"""The user's H&E image as the importers see it: its size (from the header only) and its he-raw name."""
import warnings
from pathlib import Path

from ..errors import InputError
from ..io.image_reader import ImageReader
from ..io.sample import HE_RAW, IMAGE_ENDINGS
from ..io.slides import SLIDE_SUFFIXES

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
