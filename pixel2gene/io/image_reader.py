"""Read H&E images as RGB uint8 row strips, from any level of a pyramid.

JPEG/PNG are decoded whole (their codecs cannot seek); TIFF/BigTIFF/OME-TIFF
are read segment by segment, and the slides OpenSlide reads (io/slides.py)
region by region, so a whole-slide image is never held in memory. Rows come
from level 0 unless a caller asks for a smaller level (`level(i)`).
"""
import contextlib
import os
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from ..errors import InputError
from .slides import SLIDE_SUFFIXES, OpenSlideLevels, consistent_levels, tiff_pixel_size

# OpenCV refuses images over 2^30 pixels unless told otherwise; slides are bigger.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(2 ** 40))
import cv2  # noqa: E402

TIFF_SUFFIXES = (".tif", ".tiff", ".btf")


def to_rgb8(a: np.ndarray) -> np.ndarray:
    """Any 2-D/3-D numeric image to (h, w, 3) uint8."""
    if a.ndim == 2:
        a = a[..., None]
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.integer):
            shift = 8 * (a.dtype.itemsize - 1)
            a = (a >> shift).astype(np.uint8) if shift else a.astype(np.uint8)
        else:
            a = np.clip(a * (255.0 if a.max(initial=0) <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return np.ascontiguousarray(a[..., :3])


class ImageReader:
    """Random access to rows of an RGB image: .shape and .read_rows(y0, y1), safe to call from threads."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(self.path, "image file is missing", "give the path of the H&E image")
        if self.path.stat().st_size == 0:
            raise InputError(self.path, "image file is empty", "re-export the H&E image")
        name = self.path.name.lower()
        if name.endswith(SLIDE_SUFFIXES):
            self._impl = OpenSlideLevels(self.path)
        elif name.endswith(TIFF_SUFFIXES):
            self._impl = _TiffLevels(self.path)
        else:
            self._impl = _DecodedRows(self.path)
        self.shape = self._impl.shape
        self.levels = getattr(self._impl, "levels", [self.shape])  # (h, w) per pyramid level, finest first
        self.pixel_size = getattr(self._impl, "pixel_size", None)   # slides.PixelSize the file records, or None

    def read_rows(self, y0: int, y1: int) -> np.ndarray:
        return self._impl.read_rows(max(0, y0), min(self.shape[0], y1))

    def level(self, index: int):
        """Rows of pyramid level `index` (.shape, .read_rows), from the same open file."""
        return self if index == 0 else _Level(self._impl, index, self.levels[index])

    def read_all(self) -> np.ndarray:
        return self.read_rows(0, self.shape[0])

    def close(self):
        close = getattr(self._impl, "close", None)
        if close:
            close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@contextlib.contextmanager
def native_stderr(captured: list):
    """Collect what C libraries (libjpeg, libpng) write to the process's stderr meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode("utf-8", "replace"))


BENIGN = ("iCCP", "sRGB")  # libpng's notes on colour profiles: the pixels are fine


def decoder_warnings(text: str):
    return [line.strip() for line in text.splitlines() if line.strip() and not any(b in line for b in BENIGN)]


class _Level:
    def __init__(self, impl, index, shape):
        self._impl, self._index, self.shape = impl, index, shape

    def read_rows(self, y0, y1):
        return self._impl.read_rows(max(0, y0), min(self.shape[0], y1), self._index)


class _DecodedRows:
    def __init__(self, path: Path):
        data = np.fromfile(str(path), dtype=np.uint8)
        captured = []
        with native_stderr(captured):
            img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        warnings = decoder_warnings(captured[0])
        if img is None:
            raise InputError(path, "image does not decode" + (f" ({warnings[0]})" if warnings else ""),
                             "re-export it as JPEG, PNG or TIFF")
        if warnings:  # libjpeg goes on after corrupt data and returns a damaged image
            raise InputError(path, f"image is damaged (the decoder says: {warnings[0]})",
                             "re-export or re-download the H&E image")
        if img.ndim == 3 and img.shape[2] >= 3:
            # OpenCV decodes to BGR(A); cvtColor swaps in one pass (a fancy index would copy twice)
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB if img.shape[2] == 3 else cv2.COLOR_BGRA2RGB)
        self._img = to_rgb8(img)
        self.shape = self._img.shape[:2]

    def read_rows(self, y0, y1):
        return self._img[y0:y1]


class _TiffLevels:
    """The levels of a TIFF's first series (SubIFDs of an OME-TIFF, an Aperio-style TIFF's reduced pages)."""

    def __init__(self, path: Path):
        import tifffile
        try:
            self._tif = tifffile.TiffFile(str(path))
            series = self._tif.series[0]
            pages = [level.keyframe for level in series.levels] if hasattr(series, "levels") else \
                [self._tif.pages[0]]
            pixel_size = tiff_pixel_size(self._tif)
        except Exception as exc:
            raise InputError(path, f"TIFF does not open ({type(exc).__name__}: {exc})",
                             "check the file is a complete TIFF/BigTIFF/OME-TIFF") from None
        io = threading.Lock()  # one file handle for every level: seek+read together; decoding runs in parallel
        shapes = [(int(p.imagelength), int(p.imagewidth)) for p in pages]
        self._pages = [_TiffRows(path, self._tif, pages[i], io) for i in consistent_levels(shapes)]
        self.levels = [p.shape for p in self._pages]
        self.shape = self.levels[0]
        self.pixel_size = pixel_size

    def read_rows(self, y0, y1, level=0):
        return self._pages[level].read_rows(y0, y1)

    def close(self):
        self._tif.close()


class _TiffRows:
    """Rows of one TIFF page, segment by segment."""

    def __init__(self, path: Path, tif, page, io: threading.Lock):
        self.path = path
        self._tif = tif
        self._page = page
        self._io = io
        self.shape = (int(page.imagelength), int(page.imagewidth))
        self._samples = int(page.samplesperpixel)
        self._seg_h = int(page.tilelength) if page.is_tiled else int(page.rowsperstrip or page.imagelength)
        self._seg_w = int(page.tilewidth) if page.is_tiled else self.shape[1]
        self._rows_of_segs = -(-self.shape[0] // self._seg_h)
        self._cols_of_segs = -(-self.shape[1] // self._seg_w)

    def read_rows(self, y0, y1):
        page, fh = self._page, self._tif.filehandle
        out = np.zeros((y1 - y0, self.shape[1], self._samples), page.dtype)
        planes = self._samples if page.planarconfig == 2 else 1
        per_plane = self._rows_of_segs * self._cols_of_segs
        r0, r1 = y0 // self._seg_h, -(-y1 // self._seg_h)
        for plane in range(planes):
            for r in range(r0, r1):
                for c in range(self._cols_of_segs):
                    index = plane * per_plane + r * self._cols_of_segs + c
                    self._place(out, index, y0, y1, fh, plane if planes > 1 else None)
        return to_rgb8(out)

    def _place(self, out, index, y0, y1, fh, plane):
        page = self._page
        with self._io:
            fh.seek(page.dataoffsets[index])
            data = fh.read(page.databytecounts[index])
        try:
            seg, (_, _, ty, tx, _), _ = page.decode(data, index, jpegtables=page.jpegtables)
        except Exception as exc:
            raise InputError(self.path, f"TIFF tile does not decode ({type(exc).__name__})",
                             "install 'imagecodecs' for this compression, or re-save the image") from None
        if seg is None:
            return
        seg = seg.reshape(seg.shape[-3:])  # (h, w, samples)
        h = min(seg.shape[0], self.shape[0] - ty)
        w = min(seg.shape[1], self.shape[1] - tx)
        a, b = max(ty, y0), min(ty + h, y1)
        if a >= b:
            return
        block = seg[a - ty:b - ty, :w]
        if plane is None:
            out[a - y0:b - y0, tx:tx + w, :] = block
        else:
            out[a - y0:b - y0, tx:tx + w, plane] = block[..., 0]
