"""p2g-cells: predictions summed into the user's cells, the same from a label image, GeoJSON and Xenium."""
import json

import numpy as np
import pytest
import tifffile

from pixel2gene.image.cells import label_coverage, polygon_coverage
from pixel2gene.io.segmentation import Polygons
from pixel2gene.steps import cells
from pixel2gene.tool import cli
from synthetic_cells import write_geojson, write_section, write_xenium

anndata = pytest.importorskip("anndata")


def call(argv, capfd=None):
    if capfd:
        capfd.readouterr()
    rc = cli.main(cells.Args, cells.run, "", list(map(str, argv)))
    return rc, (capfd.readouterr().err if capfd else "")


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    root = tmp_path_factory.mktemp("cells")
    s = write_section(root)
    tifffile.imwrite(root / "labels.tif", s["labels"])
    write_geojson(root / "cells.geojson", s["rings"], s["ids"], s["types"])
    boundaries, alignment = write_xenium(root / "xenium-outs", s["rings"], s["ids"])
    base = ["--result", root / "result", "--rescaled", root / "rescale", "--thumbnail-px", 0]
    runs = {"labels": [root / "labels.tif"], "geojson": [root / "cells.geojson"],
            "xenium": [boundaries, "--alignment", alignment]}
    for name, (seg, *extra) in runs.items():
        assert call(base + ["--segmentation", seg, "--out", root / name, *extra])[0] == 0, name
    s["h5ad"] = {name: anndata.read_h5ad(root / name / "cells.h5ad") for name in runs}
    s["base"] = base
    return s


def label_order(a):
    """Label k + 1 is cell k of the section."""
    return np.array([int(i) - 1 for i in a.obs_names])


def test_per_cell_values_follow_the_truth(section):
    """Maps that are the cells' own expression binned into 8 µm superpixels, summed back into the cells: the
    per-cell Pearson across cells is what the 8 µm grid can resolve (printed; about 0.89 per gene here)."""
    a = section["h5ad"]["labels"]
    truth = section["truth"][label_order(a)]
    x = np.asarray(a.X)
    r = np.array([np.corrcoef(x[:, g], truth[:, g])[0, 1] for g in range(x.shape[1])])
    print(f"per-cell Pearson over {len(x)} cells: median {np.median(r):.3f}, min {r.min():.3f}, max {r.max():.3f}")
    assert np.median(r) > 0.85 and r.min() > 0.75
    # a superpixel gives its cells the share of its area they cover, and no more: summed over the cells, each
    # gene is its maps weighted by the share of each superpixel that cells cover
    side = 32  # he-raw pixels per superpixel side
    mask = section["mask"]
    covered = np.zeros(mask.shape)
    rows, cols = np.nonzero(section["labels"])
    np.add.at(covered, (rows // side, cols // side), 1 / side ** 2)
    expected = np.nansum(section["maps"] * np.where(mask, covered, 0)[None], axis=(1, 2))
    np.testing.assert_allclose(x.sum(0), expected, rtol=1e-4)


def test_label_image_geojson_and_xenium_give_the_same_cells(section):
    labels, geo, xen = (section["h5ad"][k] for k in ("labels", "geojson", "xenium"))
    assert list(geo.obs_names) == section["ids"] == list(xen.obs_names)  # the segmentation's own ids
    order = label_order(labels)
    assert len(order) == len(geo) == len(xen)
    np.testing.assert_allclose(np.asarray(geo.X)[order], np.asarray(labels.X), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(xen.X), np.asarray(geo.X), rtol=1e-5, atol=1e-7)
    for column in ("area_um2", "tissue_fraction", "novelty"):
        np.testing.assert_allclose(geo.obs[column].to_numpy()[order], labels.obs[column].to_numpy(), rtol=1e-5)
    np.testing.assert_allclose(geo.obsm["spatial"][order], labels.obsm["spatial"], atol=1e-6)
    np.testing.assert_allclose(xen.obsm["spatial"], geo.obsm["spatial"], atol=1e-6)
    assert list(geo.obs["class"].cat.categories) == ["type0", "type1", "type2"]


def test_a_compressed_tiff_of_labels_is_read_strip_by_strip_with_the_same_cells(section, tmp_path):
    """A slide's labels as Cellpose or QuPath save them (compressed, tiled) are never decoded whole."""
    from pixel2gene.io.segmentation import read_label_image
    tiled = tmp_path / "labels-tiled.tif"
    tifffile.imwrite(tiled, section["labels"], compression="zlib", tile=(256, 256))
    lazy = read_label_image(tiled, section["labels"].shape)
    assert not isinstance(lazy, np.ndarray) and np.array_equal(np.asarray(lazy[300:310]), section["labels"][300:310])
    assert call(section["base"] + ["--segmentation", tiled, "--out", tmp_path / "o"])[0] == 0
    again = anndata.read_h5ad(tmp_path / "o" / "cells.h5ad")
    plain = section["h5ad"]["labels"]
    assert list(again.obs_names) == list(plain.obs_names)
    np.testing.assert_array_equal(np.asarray(again.X.todense() if hasattr(again.X, "todense") else again.X),
                                  np.asarray(plain.X.todense() if hasattr(plain.X, "todense") else plain.X))


def test_the_h5ad_places_and_measures_each_cell(section):
    a = section["h5ad"]["labels"]
    order = label_order(a)
    np.testing.assert_allclose(a.obs["area_um2"].to_numpy(), section["area"][order])
    rows, cols = np.nonzero(section["labels"])
    cell = section["labels"][rows, cols].astype(int) - 1
    n = np.bincount(cell)
    centres = np.c_[np.bincount(cell, cols + 0.5) / n, np.bincount(cell, rows + 0.5) / n][order]  # (x, y) he-raw
    np.testing.assert_allclose(a.obsm["spatial"], centres, atol=1e-6)
    glass = a.obs["tissue_fraction"].to_numpy() < 1  # the corner of glass: less of those cells is predicted
    assert glass.any() and (a.obs["tissue_fraction"] >= 0).all()
    assert np.isnan(a.obs["novelty"].to_numpy()[a.obs["tissue_fraction"].to_numpy() == 0]).all()
    meta = a.uns["pixel2gene"]
    assert meta["observations"] == "cells" and meta["segmentation_kind"] == "labels" and "area-weighted" in meta["X_units"]
    assert a.X.dtype == np.float32 and list(a.var_names) == section["genes"]


def test_weights_are_shares_of_the_superpixels_area():
    """A 6 µm nucleus inside one 8 µm superpixel gets 28.3/64 of its prediction; an 8 µm square set on a corner
    of four superpixels gets a quarter of each."""
    from pixel2gene.export.cells import cell_weights
    mask = np.ones((4, 4), bool)
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    disc = np.c_[16 + 12 * np.cos(t), 16 + 12 * np.sin(t)]  # he-raw 0.25 µm/px: 3 µm radius in superpixel 0
    square = np.array([[48, 48], [80, 48], [80, 80], [48, 80]], float)  # 8 µm, centred on the corner at 64 px
    polys = Polygons(["nucleus", "square"], np.r_[disc, square], np.array([0, 200, 204]), np.array([0, 1]))
    cov = polygon_coverage(polys, 0.5, 0.5, mask)
    w = cell_weights(cov, 64.0).toarray()
    assert abs(w[0, 0] - np.pi * 9 / 64) < 0.01 and w[0].sum() == w[0, 0]
    np.testing.assert_allclose(w[1, [5, 6, 9, 10]], 0.25)
    labels = np.zeros((128, 128), np.int32)
    labels[48:80, 48:80] = 7
    lab = label_coverage(labels, 0.5, 0.25, mask)
    np.testing.assert_allclose(cell_weights(lab, 64.0).toarray()[0, [5, 6, 9, 10]], 0.25)
    assert list(lab.keys) == [7]


def test_a_rerun_reuses_and_a_changed_segmentation_reruns(section, tmp_path):
    out = section["root"] / "geojson"
    before = json.loads((out / "step.json").read_text())
    argv = section["base"] + ["--segmentation", section["root"] / "cells.geojson", "--out", out]
    assert call(argv)[0] == 0
    assert json.loads((out / "step.json").read_text()) == before  # reused: nothing changed
    changed = tmp_path / "cells.geojson"
    data = json.loads((section["root"] / "cells.geojson").read_text())
    data["features"] = data["features"][:100]
    changed.write_text(json.dumps(data))
    assert call(section["base"] + ["--segmentation", changed, "--out", tmp_path / "o"])[0] == 0
    assert anndata.read_h5ad(tmp_path / "o" / "cells.h5ad").n_obs == 100


def test_xenium_cells_rerun_when_the_file_found_beside_the_boundaries_changes(section, tmp_path):
    """experiment.xenium (the morphology pixel size) is read from beside the boundaries, named by no option."""
    import shutil
    outs = tmp_path / "xenium-outs"
    shutil.copytree(section["root"] / "xenium-outs", outs)
    argv = section["base"] + ["--segmentation", outs / "cell_boundaries.parquet", "--alignment",
                              outs / "he_imagealignment.csv", "--out", tmp_path / "o"]
    assert call(argv)[0] == 0
    first = json.loads((tmp_path / "o" / "step.json").read_text())
    assert call(argv)[0] == 0 and json.loads((tmp_path / "o" / "step.json").read_text()) == first  # reused
    experiment = json.loads((outs / "experiment.xenium").read_text())
    (outs / "experiment.xenium").write_text(json.dumps({"pixel_size": experiment["pixel_size"] * 1.02}))
    assert call(argv)[0] == 0
    assert json.loads((tmp_path / "o" / "step.json").read_text())["digest"] != first["digest"]  # redone
    moved = anndata.read_h5ad(tmp_path / "o" / "cells.h5ad").obsm["spatial"]
    assert not np.allclose(moved, section["h5ad"]["xenium"].obsm["spatial"])


def bad_inputs(root, section):
    wrong = root / "small.png"
    import cv2
    cv2.imwrite(str(wrong), np.ones((100, 80), np.uint16))
    zero = root / "zero.npy"
    np.save(zero, np.zeros(section["labels"].shape, np.int32))
    (root / "notjson.geojson").write_text("{not json")
    (root / "points.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]}}]}))
    far = json.loads((section["root"] / "cells.geojson").read_text())
    for f in far["features"]:
        f["geometry"]["coordinates"] = [[[x + 5000, y] for x, y in ring] for ring in f["geometry"]["coordinates"]]
    (root / "far.geojson").write_text(json.dumps(far))
    (root / "cells.txt").write_text("x")
    return [
        (wrong, [], "is 80x100 px but he-raw is 1280x1280 px"),
        (zero, [], "holds no cells"),
        (root / "notjson.geojson", [], "is not valid JSON"),
        (root / "points.geojson", [], "holds no Polygon or MultiPolygon features"),
        (root / "far.geojson", [], "cells lie outside the 1280x1280 px he-raw image"),
        (root / "cells.txt", [], "is not a segmentation pixel2gene reads"),
        (section["root"] / "xenium-outs" / "cell_boundaries.parquet", [], "has no Xenium alignment"),
    ]


def test_bad_segmentations_fail_in_one_line_naming_the_file_and_leave_nothing(section, tmp_path, capfd):
    for path, extra, words in bad_inputs(tmp_path, section):
        out = tmp_path / "out"
        rc, err = call(section["base"] + ["--segmentation", path, "--out", out, *extra], capfd)
        lines = [line for line in err.strip().splitlines() if not line.startswith("[p2g]")]
        assert rc == 2 and len(lines) == 1 and str(path) in lines[0] and words in lines[0], (path, err)
        assert not out.exists()


def test_p2g_run_takes_cells_per_sample_and_makes_domains(tmp_path):
    """The local runner: --cells SAMPLE=FILE adds OUTDIR/cells/SAMPLE/, --domains K the domains everywhere."""
    from conftest import run_tool
    from synthetic import make_sample
    make_sample(f"{tmp_path}/T/", size_um=480, seed=0)
    make_sample(f"{tmp_path}/P/", size_um=480, seed=1, measured=False)
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    features = [{"type": "Feature", "id": f"c{i}", "geometry": {"type": "Polygon", "coordinates": [
        [[250 + 30 * i + 6 * np.cos(a), 300 + 6 * np.sin(a)] for a in t]]}} for i in range(5)]
    (tmp_path / "cells.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    out = tmp_path / "out"
    run_tool("p2g-run", "--train", f"{tmp_path}/T/", "--predict", f"{tmp_path}/P/", "--outdir", out,
             "--encoder", "texture", "--epochs", 1, "--n-folds", 2, "--threads", 1, "--map-top", 1,
             "--domains", 3, "--cells", f"P={tmp_path / 'cells.geojson'}")
    a = anndata.read_h5ad(out / "cells" / "P" / "cells.h5ad")
    assert list(a.obs_names) == [f"c{i}" for i in range(5)]
    np.testing.assert_allclose(a.obs["area_um2"], 8 * 4.8 ** 2 * np.sin(np.pi / 8), rtol=0.05)  # 16-gon, r 4.8 µm
    assert list(anndata.read_h5ad(out / "P.h5ad").obs["domain"].cat.categories) == ["0", "1", "2"]
    assert (out / "domains" / "P" / "domains.png").is_file() and "Tissue domains" in (out / "P.html").read_text()
