"""Scanner slides as he-raw (#28 item 1): pyramid levels, the µm/px a slide records, OpenSlide's formats.

The slides are small and built here with tifffile: an OME-TIFF whose levels are SubIFDs halving each time
(what bfconvert and vips write) and an Aperio-style .svs (tiled pages with Aperio's ImageDescription, a
stripped thumbnail as the second page, levels a quarter each time). Levels are area averages of level 0,
as scanners make them, so reading a level agrees with reading level 0 to within rounding.
"""
import json
import sys

import cv2
import numpy as np
import pytest
import tifffile

from conftest import run_tool
from pixel2gene.errors import InputError
from pixel2gene.image.rescale import rescale_image
from pixel2gene.io.image_reader import ImageReader
from pixel2gene.io.slides import consistent_levels, pick_level

H, W, MPP = 768, 1280, 0.25


@pytest.fixture(scope="module")
def scan():
    """A smooth stained-looking level 0: rounding, not texture, is what separates a level from level 0."""
    rng = np.random.default_rng(28)
    stain = cv2.GaussianBlur(rng.normal(0, 1, (H, W)).astype(np.float32), (0, 0), 6)
    stain = (stain - stain.min()) / np.ptp(stain)
    pink, purple = np.array([235, 175, 205], np.float32), np.array([110, 50, 140], np.float32)
    return (pink + stain[..., None] * (purple - pink)).astype(np.uint8)


def shrink(img, factor):
    return cv2.resize(img, (img.shape[1] // factor, img.shape[0] // factor), interpolation=cv2.INTER_AREA)


def write_ome(path, scan, size=MPP, unit="µm"):
    meta = {"axes": "YXS", "PhysicalSizeX": size, "PhysicalSizeXUnit": unit, "PhysicalSizeY": size,
            "PhysicalSizeYUnit": unit}
    with tifffile.TiffWriter(path) as tif:
        tif.write(scan, tile=(256, 256), subifds=2, photometric="rgb", compression="zlib", metadata=meta)
        for factor in (2, 4):
            tif.write(shrink(scan, factor), tile=(128, 128), subfiletype=1, photometric="rgb", compression="zlib")
    return path


def write_svs(path, scan):
    h, w = scan.shape[:2]
    desc = f"Aperio Image Library v12.0.15 \r\n{w}x{h} [0,0 {w}x{h}] (256x256) RAW|AppMag = 40|MPP = {MPP:.4f}"
    with tifffile.TiffWriter(path) as tif:
        tif.write(scan, tile=(256, 256), photometric="rgb", description=desc, metadata=None)
        tif.write(shrink(scan, 8), photometric="rgb", description="Aperio thumbnail", metadata=None)
        tif.write(shrink(scan, 4), tile=(256, 256), photometric="rgb", description=desc, metadata=None)
    return path


def rescaled(reader, scale, path, level=None):
    shapes = rescale_image(reader, scale, path, threads=1, level=level)
    h, w = shapes["shape"]
    return np.load(path)[:h, :w].astype(int), shapes


def test_level_choice_is_the_coarsest_not_coarser_than_the_target():
    levels = [(1000, 1200), (500, 600), (250, 300), (125, 150)]
    assert pick_level(levels, (500, 600)) == 1
    assert pick_level(levels, (499, 600)) == 1      # one pixel short is rounding, not a coarser level
    assert pick_level(levels, (510, 612)) == 0      # 2 % coarser than needed: level 0
    assert pick_level(levels, (300, 360)) == 1
    assert pick_level(levels, (200, 240)) == 2
    assert pick_level(levels, (100, 120)) == 3
    assert pick_level(levels, (1000, 1200)) == 0
    # a thumbnail-shaped page stored among the levels is never read
    assert consistent_levels([(1000, 1200), (500, 600), (400, 400), (125, 150)]) == [0, 1, 3]


def test_ome_tiff_levels_and_pixel_size(scan, tmp_path, monkeypatch):
    import pixel2gene.image.rescale as rs
    reader = ImageReader(write_ome(tmp_path / "s.ome.tif", scan))
    assert reader.levels == [(H, W), (H // 2, W // 2), (H // 4, W // 4)]
    assert (reader.pixel_size.x, reader.pixel_size.y) == (MPP, MPP) and "OME" in reader.pixel_size.source
    for target, level in ((0.5, 1), (0.7, 1), (1.0, 2), (0.4, 0)):
        scale = MPP / target
        auto, shapes = rescaled(reader, scale, tmp_path / "auto.npy")
        full, _ = rescaled(reader, scale, tmp_path / "full.npy", level=0)
        assert shapes["read_level"] == level and shapes["read_level_shape"] == list(reader.levels[level])
        diff = np.abs(auto - full)
        assert diff.max() <= (1 if target in (0.5, 1.0) else 6) and diff.mean() < 0.6, (target, diff.max())
    monkeypatch.setattr(rs, "STRIP_ROWS", 24)  # strips of a level are the whole level's result
    strips, _ = rescaled(reader, MPP / 0.7, tmp_path / "strips.npy")
    assert np.array_equal(strips, rescaled(reader, MPP / 0.7, tmp_path / "auto.npy")[0])


def test_ome_pixel_size_in_other_units(scan, tmp_path):
    reader = ImageReader(write_ome(tmp_path / "nm.ome.tif", scan[:256, :256], size=250, unit="nm"))
    assert reader.pixel_size.x == pytest.approx(0.25)


@pytest.fixture
def svs(scan, tmp_path):
    pytest.importorskip("openslide", reason="OpenSlide's wheels are not installed (pixel2gene[slides])")
    return write_svs(tmp_path / "scan.svs", scan)


def test_aperio_svs_through_openslide(svs, scan, tmp_path):
    reader = ImageReader(svs)
    assert reader.levels == [(H, W), (H // 4, W // 4)]  # the thumbnail page is not a level
    assert reader.pixel_size.x == MPP and "openslide.mpp-x" in reader.pixel_size.source
    assert np.array_equal(reader.read_rows(100, 300), scan[100:300])
    # 0.5 µm/px: the level at 1.0 is coarser, so level 0 is read, exactly as from the TIFF pages themselves
    half, shapes = rescaled(reader, 0.5, tmp_path / "half.npy")
    assert shapes["read_level"] == 0
    tiff_copy = tmp_path / "scan.tif"
    tiff_copy.write_bytes(svs.read_bytes())
    assert np.array_equal(half, rescaled(ImageReader(tiff_copy), 0.5, tmp_path / "tif.npy")[0])
    # 1.0 µm/px: the level made for it
    quarter, shapes = rescaled(reader, 0.25, tmp_path / "quarter.npy")
    assert shapes["read_level"] == 1
    assert np.abs(quarter - rescaled(reader, 0.25, tmp_path / "q0.npy", level=0)[0]).max() <= 1


def test_svs_rescale_takes_the_slides_own_pixel_size(svs, scan, tmp_path):
    prefix = tmp_path / "S1"
    prefix.mkdir()
    (prefix / "he-raw.svs").symlink_to(svs)  # as p2g-import links it
    proc = run_tool("p2g-rescale", "--prefix", f"{prefix}/", "--out", tmp_path / "out")
    assert "no pixel-size-raw.txt; 0.25 µm/px from he-raw.svs (OpenSlide's openslide.mpp-x/mpp-y)" in proc.stderr
    record = json.loads((tmp_path / "out" / "sample.json").read_text())
    assert record["pixel_size_raw"] == MPP and record["raw_shape"] == [H, W] and record["shape"] == [H // 2, W // 2]
    image = np.load(tmp_path / "out" / "image.npy")[:H // 2, :W // 2].astype(int)
    assert np.array_equal(image, rescaled(ImageReader(svs), 0.5, tmp_path / "ref.npy")[0])


def test_ome_rescale_reads_level_one_and_says_where_the_pixel_size_came_from(scan, tmp_path):
    prefix = tmp_path / "S2-"
    write_ome(tmp_path / "S2-he-raw.ome.tif", scan)
    proc = run_tool("p2g-rescale", "--prefix", prefix, "--out", tmp_path / "out")
    assert "0.25 µm/px from S2-he-raw.ome.tif (OME-XML PhysicalSizeX/Y)" in proc.stderr
    assert f"read from pyramid level 1: {W // 2}x{H // 2} px" in proc.stderr
    record = json.loads((tmp_path / "out" / "sample.json").read_text())
    assert record["read_level"] == 1 and record["pixel_size_raw"] == MPP
    image = np.load(tmp_path / "out" / "image.npy")[:H // 2, :W // 2].astype(int)
    full, _ = rescaled(ImageReader(tmp_path / "S2-he-raw.ome.tif"), 0.5, tmp_path / "full.npy", level=0)
    assert np.abs(image - full).max() <= 1


@pytest.mark.parametrize("written, ok", [("0.251", True), ("0.3", False)])
def test_pixel_size_file_must_agree_with_the_slide(scan, tmp_path, written, ok):
    write_ome(tmp_path / "S3-he-raw.ome.tif", scan)
    (tmp_path / "S3-pixel-size-raw.txt").write_text(written + "\n")
    out = tmp_path / "out"
    proc = run_tool("p2g-rescale", "--prefix", tmp_path / "S3-", "--out", out, check=False)
    if ok:  # within 2 %: the user's file wins, silently
        assert proc.returncode == 0 and json.loads((out / "sample.json").read_text())["pixel_size_raw"] == 0.251
        return
    line, = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and line.startswith(f"error: {tmp_path / 'S3-pixel-size-raw.txt'}: says 0.3 µm/px")
    assert f"{tmp_path / 'S3-he-raw.ome.tif'} records 0.25 µm/px" in line
    assert not out.exists()


def test_no_pixel_size_anywhere_names_the_file_to_write(scan, tmp_path):
    tifffile.imwrite(tmp_path / "S4-he-raw.tif", scan, photometric="rgb")
    proc = run_tool("p2g-rescale", "--prefix", tmp_path / "S4-", "--out", tmp_path / "out", check=False)
    line, = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and str(tmp_path / "S4-pixel-size-raw.txt") in line
    assert "records no µm per pixel" in line


def test_slide_errors_are_one_line(tmp_path, monkeypatch):
    broken = tmp_path / "broken.svs"
    broken.write_bytes(b"II*\x00" + bytes(100))
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "openslide", None)  # as where the extra is not installed
        with pytest.raises(InputError, match=r'needs OpenSlide; install .*pip install "pixel2gene\[slides\]"'):
            ImageReader(broken)
    pytest.importorskip("openslide")
    with pytest.raises(InputError, match="broken.svs: slide does not open"):
        ImageReader(broken)


def test_a_mirax_slide_opens_beside_the_data_folder_staged_with_it(tmp_path):
    """A pipeline task stages he-raw.mrxs and its folder he-raw/ side by side (links, or downloaded copies whose
    real places differ): that pair is opened. A link p2g-import made (he-raw.mrxs -> the user's slide.mrxs, whose
    folder is slide/) is opened at its target, where the folder is."""
    from pixel2gene.io.slides import _beside_its_data
    real = tmp_path / "user"
    (real / "slide").mkdir(parents=True)
    (real / "slide.mrxs").write_bytes(b"")
    staged = tmp_path / "task" / "sample"
    staged.mkdir(parents=True)
    (staged / "he-raw.mrxs").symlink_to(tmp_path / "elsewhere.mrxs")
    (tmp_path / "elsewhere.mrxs").symlink_to(real / "slide.mrxs")
    (staged / "he-raw").symlink_to(real / "slide")
    assert _beside_its_data(staged / "he-raw.mrxs") == staged / "he-raw.mrxs"
    imported = tmp_path / "imported"
    imported.mkdir()
    (imported / "he-raw.mrxs").symlink_to(real / "slide.mrxs")
    assert _beside_its_data(imported / "he-raw.mrxs") == real / "slide.mrxs"


def test_an_imported_mirax_slide_brings_its_data_folder(tmp_path):
    """p2g-import links he-raw.mrxs to the user's slide and its folder beside it as he-raw/, so the sample's files
    hold the whole slide (the pipeline's tasks stage them together); other images get no folder."""
    import pandas as pd
    import scipy.sparse as sp
    from pixel2gene.importers.prefix import Imported, write_prefix

    def imported(image):
        return Imported(vendor="visium", ids=pd.Index(["a"]), genes=["G"],
                        blocks=lambda: iter([sp.csr_matrix(np.array([[3]], np.int32))]), dtype=np.int32,
                        matrix_path=tmp_path / "matrix.h5", locs=pd.DataFrame({"x": [1.0], "y": [1.0]}, index=["a"]),
                        image=image, diameter_um=55.0, pixel_size_raw=1.0)

    (tmp_path / "scans" / "slide").mkdir(parents=True)
    (tmp_path / "scans" / "slide" / "Slidedat.ini").write_text("[GENERAL]\n")
    (tmp_path / "scans" / "slide.mrxs").write_bytes(b"")
    sample = write_prefix(tmp_path / "S", imported(tmp_path / "scans" / "slide.mrxs"))
    assert (sample / "he-raw.mrxs").resolve() == tmp_path / "scans" / "slide.mrxs"
    assert (sample / "he-raw").is_symlink() and (sample / "he-raw" / "Slidedat.ini").is_file()
    from pixel2gene.io.slides import _beside_its_data
    assert _beside_its_data(sample / "he-raw.mrxs") == sample / "he-raw.mrxs"
    (tmp_path / "scans" / "plain.tif").write_bytes(b"")
    (tmp_path / "scans" / "plain").mkdir()
    other = write_prefix(tmp_path / "T", imported(tmp_path / "scans" / "plain.tif"))
    assert not (other / "he-raw").exists()
