"""Reading slides, rescaling strip by strip, and the tissue mask."""
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from pixel2gene.image.rescale import padded_size, rescale_image
from pixel2gene.image.resample import apply_columns, apply_rows, axis_table
from pixel2gene.image.tissue_mask import detect_tissue
from pixel2gene.image.superpixels import superpixel_colour
from pixel2gene.io.image_reader import ImageReader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from novel_tissue import MEMBRANE_RGB, adipose  # noqa: E402


@pytest.fixture(scope="module")
def picture():
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (700, 523, 3), dtype=np.uint8)


@pytest.mark.parametrize("n_in, n_out", [(100, 50), (100, 147), (97, 31), (10, 10)])
def test_resample_tables_preserve_constants_and_mean(n_in, n_out):
    idx, w = axis_table(n_in, n_out)
    assert np.allclose(w.sum(1), 1)
    ramp = np.arange(n_in, dtype=np.float32)[:, None, None]
    out = apply_rows(ramp, idx, w, 0)[:, 0, 0]
    assert np.all(np.diff(out) >= 0)  # a ramp stays monotone
    assert abs(out.mean() - ramp.mean()) < 1.0


def test_area_shrink_by_two_is_the_block_mean():
    a = np.arange(64, dtype=np.float32).reshape(8, 8, 1)
    idx, w = axis_table(8, 4)
    out = apply_rows(apply_columns(a, idx, w), idx, w, 0)[..., 0]
    assert np.allclose(out, a[..., 0].reshape(4, 2, 4, 2).mean((1, 3)))


class ArrayReader:
    def __init__(self, a):
        self.a, self.shape = a, a.shape[:2]

    def read_rows(self, y0, y1):
        return self.a[max(0, y0):y1]


def reference_rescale(picture, scale):
    """The resampling's definition in plain float32 NumPy: per axis, a zero array plus w_k * gathered_k."""
    h, w = round(picture.shape[0] * scale), round(picture.shape[1] * scale)
    (ri, rw), (ci, cw) = axis_table(picture.shape[0], h), axis_table(picture.shape[1], w)
    a = picture.astype(np.float32)
    cols = np.zeros((a.shape[0], w, 3), np.float32)
    for k in range(ci.shape[1]):
        cols += cw[:, k, None] * a[:, ci[:, k]]
    rows = np.zeros((h, w, 3), np.float32)
    for k in range(ri.shape[1]):
        rows += rw[:, k, None, None] * cols[ri[:, k]]
    return np.clip(np.rint(rows), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("scale", [0.5, 0.37, 1.47])
def test_strips_equal_one_shot_resampling(picture, tmp_path, scale, monkeypatch):
    import pixel2gene.image.rescale as rs
    outs = []
    for rows, threads in ((10_000, 1), (37, 1), (37, 3)):
        monkeypatch.setattr(rs, "STRIP_ROWS", rows)
        path = tmp_path / f"{rows}-{threads}.npy"
        shapes = rescale_image(ArrayReader(picture), scale, path, threads=threads)
        outs.append(np.load(path))
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])
    h, w = shapes["shape"]
    assert np.array_equal(outs[0][:h, :w], reference_rescale(picture, scale))
    h, w = shapes["shape"]
    assert outs[0].shape[:2] == padded_size((h, w)) and outs[0].shape[0] % 256 == 0
    assert (outs[0][h:] == 255).all() and (outs[0][:, w:] == 255).all()


def test_tiled_pyramidal_bigtiff_reads_level0_rows(picture, tmp_path):
    path = tmp_path / "slide.ome.tif"
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        tif.write(picture, tile=(128, 128), compression="zlib", subifds=1, photometric="rgb")
        tif.write(picture[::2, ::2], tile=(128, 128), compression="zlib", subfiletype=1, photometric="rgb")
    reader = ImageReader(path)
    assert reader.shape == picture.shape[:2]
    assert np.array_equal(reader.read_rows(130, 400), picture[130:400])
    assert np.array_equal(reader.read_all(), picture)


def test_threads_read_a_tiled_tiff_like_one_thread(picture, tmp_path, monkeypatch):
    """Strips decode on several threads that share one file handle."""
    import pixel2gene.image.rescale as rs
    monkeypatch.setattr(rs, "STRIP_ROWS", 16)
    path = tmp_path / "slide.tif"
    tifffile.imwrite(path, picture, tile=(32, 32), compression="zlib", photometric="rgb")
    for threads in (1, 4):
        rescale_image(ImageReader(path), 0.61, tmp_path / f"{threads}.npy", threads=threads)
    assert np.array_equal(np.load(tmp_path / "1.npy"), np.load(tmp_path / "4.npy"))
    assert np.array_equal(np.load(tmp_path / "1.npy")[:427, :319], reference_rescale(picture, 0.61))


@pytest.mark.parametrize("kwargs", [dict(rowsperstrip=16), dict(planarconfig="separate", tile=(64, 64))])
def test_strip_and_planar_tiffs(picture, tmp_path, kwargs):
    path = tmp_path / "x.tif"
    data = np.moveaxis(picture, 2, 0) if kwargs.get("planarconfig") == "separate" else picture
    tifffile.imwrite(path, data, photometric="rgb", **kwargs)
    assert np.array_equal(ImageReader(path).read_rows(5, 611), picture[5:611])


def test_grey_and_16_bit_images_become_rgb8(tmp_path):
    grey16 = (np.arange(256 * 256, dtype=np.uint32).reshape(256, 256) % 65536).astype(np.uint16)
    tifffile.imwrite(tmp_path / "g.tif", grey16)
    rgb = ImageReader(tmp_path / "g.tif").read_all()
    assert rgb.shape == (256, 256, 3) and rgb.dtype == np.uint8
    assert np.array_equal(rgb[..., 0], (grey16 >> 8).astype(np.uint8))


def test_superpixel_colour_is_exact_and_the_same_on_threads(monkeypatch):
    """Mean RGB and grey std per superpixel to float32 rounding, on a pale image where float32 sums cancel."""
    import pixel2gene.image.superpixels as sp
    rng = np.random.default_rng(4)
    img = np.clip(rng.normal(225, 3, (16 * 41, 16 * 23, 3)), 0, 255).astype(np.uint8)
    blocks = img.reshape(41, 16, 23, 16, 3).astype(np.float64) / 255
    want_rgb = blocks.mean((1, 3))
    want_tex = blocks.mean(-1).std((1, 3))
    rgb, texture = superpixel_colour(img)
    assert np.allclose(rgb, want_rgb, rtol=0, atol=1e-6)
    assert np.allclose(texture, want_tex, rtol=0, atol=1e-6)
    monkeypatch.setattr(sp, "STRIP_BYTES", 4 * 256 * 23 * 3)  # three superpixel rows a strip
    rgb3, texture3 = superpixel_colour(img, threads=3)
    assert np.array_equal(rgb, rgb3) and np.array_equal(texture, texture3)


def test_mask_ignores_glass_and_dark_debris():
    img = np.full((512, 512, 3), 240, np.uint8)
    img[100:400, 100:400] = (190, 120, 180)  # stained tissue
    img[450:480, 20:60] = (15, 15, 15)  # a black pen mark
    img[10:14, 300:304] = (150, 90, 160)  # a speck of dust-sized stain
    rng = np.random.default_rng(0)
    img = np.clip(img + rng.normal(0, 5, img.shape), 0, 255).astype(np.uint8)
    rgb, texture = superpixel_colour(img)
    mask = detect_tissue(rgb, texture)
    expected = np.zeros((32, 32), bool)
    expected[6:25, 6:25] = True  # 100..400 px: superpixel 6 is three-quarters tissue
    assert (mask == expected).mean() > 0.97
    assert not mask[28:31, 1:4].any()


def test_pale_tissue_is_kept_only_where_it_touches_stained_tissue_and_asked_for():
    img = np.full((512, 512, 3), 240, np.uint8)
    img[100:400, 100:250] = (170, 100, 160)  # clearly stained tissue
    img[100:400, 250:400] = (212, 196, 208)  # pale stroma beside it
    img[430:500, 20:120] = (212, 196, 208)  # pale smudge alone on the glass
    rng = np.random.default_rng(0)
    img = np.clip(img + rng.normal(0, 5, img.shape), 0, 255).astype(np.uint8)
    rgb, texture = superpixel_colour(img)
    pale, strict = detect_tissue(rgb, texture), detect_tissue(rgb, texture, pale=False)
    assert strict[8:24, 8:14].all() and pale[8:24, 8:14].all()  # the stained block, both ways
    assert pale[8:24, 17:24].mean() > 0.9 and strict[8:24, 17:24].mean() < 0.1  # the touching pale part
    assert not pale[28:31, 2:7].any() and not strict[28:31, 2:7].any()  # the lone smudge, neither


def _adipose(shape, cell_px, seed, inside):
    """A fat lobule (bench/novel_tissue.py's: clear cells about `cell_px` across, 4 px membranes), closed by its
    septum."""
    canvas = adipose(shape, cell_px, 4, seed, inside)
    cv2.rectangle(canvas, (0, 0), (shape[1] - 1, shape[0] - 1), MEMBRANE_RGB, 8)
    return canvas


@pytest.mark.parametrize("glass", [(241, 241, 241), (235, 219, 234)], ids=["clear", "pink-tinted"])
def test_fat_is_tissue_but_clear_holes_wider_than_adipocytes_are_not(glass):
    """An adipocyte's inside is as clear as the glass (which some scanners tint pink, as in HER2ST C3/C4); spots
    over fat must still get predictions, since ST measures them."""
    inside = tuple(min(255, c + 2) for c in glass)
    lobule = lambda cell_px: _adipose((1024, 1024), cell_px, seed=1, inside=inside)
    img = np.empty((1024, 2048, 3), np.uint8)
    img[:] = glass
    img[:, :512] = (170, 100, 160)                                 # dense stained tissue, at the left edge
    img[:, 512:1536] = lobule(200)                                 # fat against it: 100 µm adipocytes
    img[384:640, 128:384] = glass                                  # a 128 µm clear hole in the tissue
    rng = np.random.default_rng(0)
    noisy = lambda a: np.clip(a + rng.normal(0, 3, a.shape), 0, 255).astype(np.uint8)
    rgb, texture = superpixel_colour(noisy(img))
    mask = detect_tissue(rgb, texture, superpixel_um=8.0)
    assert mask[:, :32].all()                                      # the tissue, and its hole (a lumen)
    assert mask[2:-2, 33:95].mean() > 0.85                         # the fat lobule, away from the image edge
    assert not mask[:, 98:].any()                                  # the glass beyond
    assert not detect_tissue(rgb, texture, pale=False)[:, 34:96].any()  # strict: clearly stained only

    img[:, 512:1536] = lobule(640)                                 # 320 µm "cells": wider than any adipocyte
    rgb, texture = superpixel_colour(noisy(img))
    assert detect_tissue(rgb, texture, superpixel_um=8.0)[2:-2, 33:95].mean() < 0.5
