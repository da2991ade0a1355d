"""p2g-spatialdata: the SpatialData store reads back in spatialdata and agrees with the .h5ad files.

spatialdata is an optional extra (CI does not install it): these tests skip without it, except the one that
checks the tool's one-line install hint. Where spatialdata-io is installed, it reads the real 10x fixtures
beside p2g-import: an independent check of our importers.
"""
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED, run_tool
from pixel2gene.artifacts.files import SpatialDataStore
from pixel2gene.export import spatialdata as sd_export
from pixel2gene.steps import cells, domains, export, spatialdata as sd_step
from pixel2gene.tool import cli
from synthetic_cells import PX_RAW, SIDE_RAW, write_he_raw, write_section

anndata = pytest.importorskip("anndata")
TENX = SHARED / "data" / "10x"


def call(module, argv, capfd=None):
    if capfd:
        capfd.readouterr()
    rc = cli.main(module.Args, module.run, "", list(map(str, argv)))
    return rc, (capfd.readouterr().err if capfd else "")


def write_sample(root):
    """The synthetic section with its he-raw, its cells, its domains and its .h5ad files."""
    s = write_section(root, he_raw=True)
    import tifffile
    tifffile.imwrite(root / "labels.tif", s["labels"])
    base = ["--result", root / "result", "--rescaled", root / "rescale"]
    assert call(cells, base + ["--segmentation", root / "labels.tif", "--out", root / "cells",
                               "--thumbnail-px", 0])[0] == 0
    assert call(domains, base + ["--domains", 3, "--out", root / "domains"])[0] == 0
    assert call(export, base + ["--tissue-domains", root / "domains", "--out", root / "S.h5ad",
                                "--thumbnail-px", 0])[0] == 0
    s["base"] = base
    return s


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    spatialdata = pytest.importorskip("spatialdata")
    root = tmp_path_factory.mktemp("spatialdata")
    s = write_sample(root)
    with pytest.MonkeyPatch.context() as mp:  # a small image still gets a pyramid, read in several strips
        mp.setattr(sd_export, "SMALLEST_LEVEL", 256)
        mp.setattr(sd_export, "CHUNK", 256)
        rc, _ = call(sd_step, s["base"] + ["--tissue-domains", root / "domains", "--cells", root / "cells",
                                           "--out", root / "S.zarr"])
    assert rc == 0
    s["sdata"] = spatialdata.read_zarr(root / "S.zarr")
    s["h5ad"] = anndata.read_h5ad(root / "S.h5ad")
    s["cells_h5ad"] = anndata.read_h5ad(root / "cells" / "cells.h5ad")
    return s


def test_a_genes_values_at_superpixels_equal_the_h5ads(store):
    table, h5ad = store["sdata"].tables[SpatialDataStore.TABLE], store["h5ad"]
    assert list(table.var_names) == list(h5ad.var_names) == store["genes"]
    picked = h5ad.obs_names[[0, 7, 300, len(h5ad) - 1]]
    gene = store["genes"][5]
    ours = table[picked.to_numpy(), gene].X
    np.testing.assert_array_equal(np.asarray(ours).ravel(), np.asarray(h5ad[picked, gene].X).ravel())
    np.testing.assert_array_equal(np.asarray(table.X), np.asarray(h5ad.X))  # and every value of every gene
    assert list(table.obs["domain"]) == list(h5ad.obs["domain"])
    np.testing.assert_allclose(table.obs["novelty"], h5ad.obs["novelty"])


def test_table_annotates_the_superpixel_shapes(store):
    from spatialdata.models import get_table_keys
    table = store["sdata"].tables[SpatialDataStore.TABLE]
    region, region_key, instance_key = get_table_keys(table)
    assert region == SpatialDataStore.SUPERPIXELS
    shapes = store["sdata"].shapes[SpatialDataStore.SUPERPIXELS]
    assert list(table.obs[instance_key]) == list(shapes.index)


def test_superpixel_shapes_lie_at_the_h5ads_places_in_he_raw_pixels(store):
    from spatialdata import transform
    shapes = transform(store["sdata"].shapes[SpatialDataStore.SUPERPIXELS],
                       to_coordinate_system=SpatialDataStore.COORDINATES)
    h5ad = store["h5ad"]
    assert list(shapes.index) == list(h5ad.obs_names)
    centre = np.c_[shapes.geometry.centroid.x, shapes.geometry.centroid.y]
    np.testing.assert_allclose(centre, h5ad.obsm["spatial"], atol=1e-6)
    side = 16 * 0.5 / PX_RAW  # 8 µm in he-raw pixels
    np.testing.assert_allclose(shapes.geometry.area, side ** 2, rtol=1e-9)


def test_the_image_is_he_raw_with_its_pyramid(store):
    from spatialdata.transformations import Identity, get_transformation
    image = store["sdata"].images[SpatialDataStore.IMAGE]
    shapes = [tuple(image[level]["image"].shape) for level in sorted(image.keys())]
    assert shapes == [(3, SIDE_RAW, SIDE_RAW), (3, SIDE_RAW // 2, SIDE_RAW // 2), (3, SIDE_RAW // 4, SIDE_RAW // 4)]
    level0 = image["scale0"]["image"]
    assert level0.dtype == np.uint8 and list(level0.coords["c"].values) == ["r", "g", "b"]
    rgb = write_he_raw(store["root"] / "again.tif")
    np.testing.assert_array_equal(np.moveaxis(level0.values, 0, -1), rgb)
    assert isinstance(get_transformation(image, SpatialDataStore.COORDINATES), Identity)


def test_cells_are_circles_of_their_area_at_their_centroids(store):
    from spatialdata import transform
    sdata, h5ad = store["sdata"], store["cells_h5ad"]
    circles = transform(sdata.shapes[SpatialDataStore.CELLS], to_coordinate_system=SpatialDataStore.COORDINATES)
    assert list(circles.index) == list(h5ad.obs_names)
    np.testing.assert_allclose(np.c_[circles.geometry.x, circles.geometry.y], h5ad.obsm["spatial"], atol=1e-6)
    area_px = np.pi * circles["radius"].to_numpy() ** 2
    np.testing.assert_allclose(area_px * PX_RAW ** 2, h5ad.obs["area_um2"], rtol=1e-5)
    table = sdata.tables[SpatialDataStore.CELL_TABLE]
    np.testing.assert_array_equal(np.asarray(table.X), np.asarray(h5ad.X))
    assert set(table.obs[SpatialDataStore.REGION_KEY]) == {SpatialDataStore.CELLS}


def test_a_failed_write_leaves_nothing_and_a_store_is_replaced_whole(store, monkeypatch, capfd):
    root, out = store["root"], store["root"] / "S.zarr"
    before = sorted(p.name for p in root.iterdir())

    def half_then_fail(tmp, *args):
        (tmp / "images").mkdir(parents=True)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sd_export, "write_store", half_then_fail)
    rc, err = call(sd_step, store["base"] + ["--out", out], capfd)
    assert rc != 0 and "No space left" in err
    assert sorted(p.name for p in root.iterdir()) == before  # the earlier store stays, no partial beside it
    rc, _ = call(sd_step, store["base"] + ["--out", root / "new.zarr"])
    assert rc != 0 and not (root / "new.zarr").exists()
    assert sorted(p.name for p in root.iterdir()) == before


def test_a_folder_pixel2gene_did_not_write_is_not_replaced(store, tmp_path, capfd):
    theirs = tmp_path / "theirs.zarr"
    theirs.mkdir()
    (theirs / "keep.txt").write_text("mine")
    rc, err = call(sd_step, store["base"] + ["--out", theirs], capfd)
    assert rc != 0 and "was not written by pixel2gene" in err and (theirs / "keep.txt").exists()


def test_without_spatialdata_the_tool_says_how_to_install_it_and_writes_nothing(tmp_path, monkeypatch, capfd):
    """Runs where spatialdata is absent too (as in CI): then no module needs hiding."""
    s = write_section(tmp_path, he_raw=True)
    for name in [m for m in sys.modules if m == "spatialdata" or m.startswith("spatialdata.")] + ["spatialdata"]:
        monkeypatch.setitem(sys.modules, name, None)  # import spatialdata now raises ImportError
    before = sorted(p.name for p in tmp_path.iterdir())
    rc, err = call(sd_step, ["--result", tmp_path / "result", "--rescaled", tmp_path / "rescale",
                             "--out", tmp_path / "S.zarr"], capfd)
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc != 0 and "pip install 'pixel2gene[spatialdata]'" in lines[-1], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert s["root"] == tmp_path


def test_p2g_run_spatialdata_without_the_extra_fails_before_any_step(tmp_path, monkeypatch, capfd):
    from pixel2gene.runner import run as runner
    monkeypatch.setitem(sys.modules, "spatialdata", None)
    capfd.readouterr()
    rc = cli.main(runner.Args, runner.run, "", [str(a) for a in ["--train", tmp_path / "A", "--predict", tmp_path / "A", "--outdir",
                                               tmp_path / "out", "--spatialdata"]])
    assert rc != 0 and "pip install 'pixel2gene[spatialdata]'" in capfd.readouterr().err
    assert not (tmp_path / "out").exists()


def test_he_raw_elsewhere_is_read_there_and_must_be_the_image_rescaled(store, tmp_path, capfd):
    """A pipeline task stages he-raw in its own folder, not where p2g-rescale read it: --he-raw says where it is.
    Another image there is a one-line error, before anything is written."""
    import shutil
    root = store["root"]
    moved = tmp_path / "staged" / "he-raw.tif"
    moved.parent.mkdir()
    shutil.copy(root / "S" / "he-raw.tif", moved)
    rc, _ = call(sd_step, store["base"] + ["--he-raw", moved, "--out", tmp_path / "moved.zarr"])
    assert rc == 0
    import spatialdata
    image = spatialdata.read_zarr(tmp_path / "moved.zarr").images[SpatialDataStore.IMAGE]
    finest = image["scale0"]["image"] if "scale0" in getattr(image, "children", {}) else image  # small: one level
    np.testing.assert_array_equal(finest.values, store["sdata"].images[SpatialDataStore.IMAGE]["scale0"]["image"].values)
    # as many bytes (a big file is known by its size, not hashed) but another shape: refused once read
    import tifffile
    rgb = tifffile.imread(moved)
    tifffile.imwrite(moved, rgb.reshape(rgb.shape[0] // 2, rgb.shape[1] * 2, 3), rowsperstrip=32)
    assert moved.stat().st_size == (root / "S" / "he-raw.tif").stat().st_size
    rc, err = call(sd_step, store["base"] + ["--he-raw", moved, "--out", tmp_path / "other.zarr"], capfd)
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc != 0 and "the image this sample was rescaled from" in lines[-1] and "--he-raw" in lines[-1], err
    assert not (tmp_path / "other.zarr").exists()


def test_a_different_he_raw_is_refused_without_the_extra_too(tmp_path, capfd):
    """The check comes before spatialdata is imported, so it holds where the extra is absent (CI)."""
    write_section(tmp_path, he_raw=True)
    import tifffile
    tifffile.imwrite(tmp_path / "small.tif", np.zeros((8, 8, 3), np.uint8))
    rc, err = call(sd_step, ["--result", tmp_path / "result", "--rescaled", tmp_path / "rescale",
                             "--he-raw", tmp_path / "small.tif", "--out", tmp_path / "S.zarr"], capfd)
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc != 0 and "small.tif" in lines[-1] and "size differs" in lines[-1], err
    assert not (tmp_path / "S.zarr").exists()


def test_the_output_must_be_a_zarr_store(tmp_path, capfd):
    rc, err = call(sd_step, ["--result", tmp_path / "r", "--rescaled", tmp_path / "s", "--out", tmp_path / "S.h5ad"],
                   capfd)
    assert rc != 0 and "NAME.zarr" in err


# spatialdata-io on the real 10x fixtures: an independent reader of the same files --------------------------
@pytest.mark.skipif(not TENX.is_dir(), reason=f"{TENX} is not present (real 10x fixtures)")
def test_spatialdata_io_reads_the_visium_fixture_as_p2g_import_does(tmp_path):
    """Counts per barcode and gene, spot places on the low-res H&E and the µm per pixel, from two readers."""
    sdio = pytest.importorskip("spatialdata_io")
    from spatialdata import transform
    outs = TENX / "visium" / "human-heart-sr1.0"
    sdata = sdio.visium(outs, dataset_id="heart", counts_file="filtered_feature_bc_matrix.h5")
    theirs = sdata.tables["table"]
    spots = transform(sdata.shapes["heart"], to_coordinate_system="heart_downscaled_lowres")
    sample = tmp_path / "sample"
    run_tool("p2g-import", "visium", outs, "--image", "lowres", "--out", sample)
    ours = anndata.read_h5ad(sample / "cnts.h5ad")
    locs = pd.read_parquet(sample / "locs-raw.parquet")
    assert sorted(ours.obs_names) == sorted(theirs.obs_names) == sorted(locs.index)
    assert list(ours.var["gene_ids"]) == list(theirs.var["gene_ids"])
    rows = theirs.obs_names.get_indexer(ours.obs_names)
    np.testing.assert_array_equal(np.asarray(ours.X.todense()), np.asarray(theirs.X[rows].todense()))
    spot_of = pd.Series(spots.index, index=theirs.obs["spot_id"].to_numpy()).reindex(theirs.obs["spot_id"])
    where = spots.loc[spot_of.to_numpy()]
    xy = pd.DataFrame({"x": where.geometry.x.to_numpy(), "y": where.geometry.y.to_numpy()}, index=theirs.obs_names)
    np.testing.assert_allclose(locs[["x", "y"]].to_numpy(), xy.loc[locs.index].to_numpy(), rtol=1e-6)
    # a spot's diameter in µm: theirs in low-res pixels times our µm per low-res pixel
    um_per_px = float((sample / "pixel-size-raw.txt").read_text())
    assert 2 * spots["radius"].iloc[0] * um_per_px == pytest.approx(55, rel=1e-6)
