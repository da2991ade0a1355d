"""p2g-import on the real 10x outputs in ../shared/data/10x (read its README: which parts are real)."""
import json
import os

import cv2
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from conftest import SHARED, run_tool
from pixel2gene.errors import InputError
from pixel2gene.importers.spaceranger import positions_file, read_positions, read_scalefactors
from pixel2gene.importers.visium_hd import import_visium_hd
from pixel2gene.importers.xenium import to_he_pixels
from pixel2gene.io.counts import open_counts

TENX = SHARED / "data" / "10x"
pytestmark = pytest.mark.skipif(not TENX.is_dir(), reason=f"{TENX} is not present (real 10x fixtures)")


def import_ok(tmp_path, vendor, outs, *options):
    out = tmp_path / "sample"
    run_tool("p2g-import", vendor, outs, *options, "--out", out)
    return out


def tissue_pixels(image_path):
    """Stained pixels of a low-resolution H&E: saturation above glass, smoothed over a few pixels."""
    rgb = cv2.imread(str(image_path))[..., ::-1]
    saturation = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1].astype(np.float32)
    return cv2.blur(saturation, (9, 9)) > 25


def on_tissue(tissue, x, y):
    h, w = tissue.shape
    xi, yi = np.round(x).astype(int), np.round(y).astype(int)
    inside = (xi >= 0) & (yi >= 0) & (xi < w) & (yi < h)
    return (tissue[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)] & inside).mean()


def matrix_reference(h5_path):
    """The 10x HDF5 read the plain way (scipy CSC, features x barcodes), independent of the importer."""
    with h5py.File(h5_path) as f:
        m = f["matrix"]
        shape = tuple(int(v) for v in m["shape"][:])
        x = sp.csc_matrix((m["data"][:], m["indices"][:].astype(int), m["indptr"][:].astype(int)), shape=shape)
        barcodes = [b.decode() for b in m["barcodes"][:]]
        names = [n.decode() for n in m["features/name"][:]]
    return x, barcodes, names


@pytest.mark.parametrize("fixture, n_spots, swapped_fails", [
    ("visium/human-heart-sr1.0", 100, False),  # a square section: swapping x/y stays on tissue
    ("visium/mouse-brain-sr1.1", 22, True)])
def test_visium_lowres_spots_fall_on_tissue(tmp_path, fixture, n_spots, swapped_fails):
    outs = TENX / fixture
    sample = import_ok(tmp_path, "visium", outs, "--image", "lowres")
    spatial = next(outs.glob("**/spatial"))
    factors = json.loads((spatial / "scalefactors_json.json").read_text())
    locs = pd.read_parquet(sample / "locs-raw.parquet")
    assert len(locs) == n_spots
    assert os.path.realpath(sample / "he-raw.png") == str((spatial / "tissue_lowres_image.png").resolve())
    tissue = tissue_pixels(sample / "he-raw.png")
    assert on_tissue(tissue, locs.x, locs.y) >= 0.9
    assert (on_tissue(tissue, locs.y, locs.x) < 0.9) == swapped_fails
    expected = 55 / factors["spot_diameter_fullres"] / factors["tissue_lowres_scalef"]
    assert float((sample / "pixel-size-raw.txt").read_text()) == pytest.approx(expected, rel=1e-8)
    assert float((sample / "radius-raw.txt").read_text()) == 55
    # locations are the full-resolution positions times the low-res scale factor
    positions = read_positions(positions_file(spatial))
    assert np.allclose(locs.x, positions.loc[locs.index, "pxl_col_in_fullres"] * factors["tissue_lowres_scalef"])
    assert (positions.loc[locs.index, "in_tissue"] == 1).all()


def test_visium_counts_are_the_matrix(tmp_path):
    outs = TENX / "visium/human-heart-sr1.0"
    sample = import_ok(tmp_path, "visium", outs, "--image", "lowres")
    x, barcodes, names = matrix_reference(outs / "filtered_feature_bc_matrix.h5")
    with open_counts(sample / "cnts.h5ad") as counts:
        values, _ = counts.take(counts.ids, counts.genes)
        assert list(counts.genes) == names
        cols = [barcodes.index(b) for b in counts.ids]
    assert np.array_equal(values.toarray(), x[:, cols].T.toarray())


def test_visium_sr11_raw_matrix_h5_and_mtx_agree_on_shared_genes(tmp_path):
    """mouse-brain-sr1.1 ships no filtered matrix: its raw .h5 is read and only in-tissue spots kept."""
    sample = import_ok(tmp_path, "visium", TENX / "visium/mouse-brain-sr1.1", "--image", "lowres")
    record = json.loads((sample / "import.json").read_text())
    assert record["sources"]["matrix"].endswith("raw_feature_bc_matrix.h5")
    assert record["dropped"]["not_in_tissue"] == 28
    with open_counts(sample / "cnts.h5ad") as counts:
        assert counts.shape == (22, 49)


def test_visium_sr2_layout_with_header_and_mtx(tmp_path):
    """Space Ranger >= 2: tissue_positions.csv with a header row, the matrix as an mtx folder."""
    import tifffile
    outs = TENX / "visium/sr2-layout"
    positions = pd.read_csv(outs / "outs/spatial/tissue_positions.csv")
    w, h = int(positions.pxl_col_in_fullres.max()) + 100, int(positions.pxl_row_in_fullres.max()) + 100
    image = tmp_path / "fullres.tif"  # its header and a few rows are all the importer reads; plain tiles compress
    tile = np.zeros((512, 512, 3), np.uint8)
    tile[100:400] = (180, 90, 160)  # not blank: a blank image is refused
    n_tiles = -(-h // 512) * -(-w // 512)
    tifffile.imwrite(image, (tile for _ in range(n_tiles)), shape=(h, w, 3), dtype=np.uint8, tile=(512, 512),
                     photometric="rgb", compression="zlib")
    sample = import_ok(tmp_path, "visium", outs, "--image", image)
    locs = pd.read_parquet(sample / "locs-raw.parquet")
    assert len(locs) == 12 and np.array_equal(locs.x, positions.set_index("barcode").loc[locs.index,
                                                                                      "pxl_col_in_fullres"])
    assert (sample / "he-raw.tif").is_symlink()
    factors = json.loads((outs / "outs/spatial/scalefactors_json.json").read_text())
    assert float((sample / "pixel-size-raw.txt").read_text()) == pytest.approx(55 / factors["spot_diameter_fullres"])
    with open_counts(sample / "cnts.h5ad") as counts:
        assert list(counts.genes) == ["ACPP", "KLK3", "MSMB", "TGM4", "TAGLN"]
        values, _ = counts.take(["GTGGCGTGCACCAGAG-1"], ["ACPP", "KLK3"])
    assert values.toarray().tolist() == [[38, 54]]  # the mtx's first column


def test_visium_hd_positions_and_pixel_size_from_the_real_files():
    bins = TENX / "visium-hd/mouse-brain-2um/binned_outputs/square_002um"
    factors = read_scalefactors(bins / "spatial/scalefactors_json.json", ["microns_per_pixel", "bin_size_um"])
    assert factors["microns_per_pixel"] == pytest.approx(0.27382, abs=1e-5) and factors["bin_size_um"] == 2
    path = positions_file(bins / "spatial")
    positions = read_positions(path)
    assert path.name == "tissue_positions.parquet" and len(positions) == 10
    assert positions.loc["s_002um_00305_01021-1", "pxl_col_in_fullres"] == pytest.approx(13608.742911)
    x = positions.pxl_col_in_fullres * factors["tissue_lowres_scalef"]
    y = positions.pxl_row_in_fullres * factors["tissue_lowres_scalef"]
    assert on_tissue(tissue_pixels(bins / "spatial/tissue_lowres_image.png"), x, y) >= 0.9
    # the fixture's counts are all zero: a clear error naming the matrix, not a crash
    with pytest.raises(InputError, match="filtered_feature_bc_matrix.h5: holds no counts"):
        import_visium_hd(TENX / "visium-hd/mouse-brain-2um", "lowres", 2)


def test_visium_hd_all_zero_counts_stop_the_tool(tmp_path):
    proc = run_tool("p2g-import", "visium-hd", TENX / "visium-hd/mouse-brain-2um", "--bin-size", 2,
                    "--image", "lowres", "--out", tmp_path / "hd", check=False)
    line, = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and "holds no counts" in line and "filtered_feature_bc_matrix.h5" in line
    assert not list(tmp_path.iterdir())  # nothing written, not even a partial folder


def warped_he(path, xy_um, pixel_size, alignment, radius=3):
    """A synthetic H&E: each cell a labelled disk in the morphology frame, warped into H&E pixels through
    the alignment (dst(p) = src(M p), i.e. M maps H&E pixels to morphology pixels)."""
    morph = xy_um / pixel_size
    lo = np.floor(morph.min(0)) - 20
    size = (np.ceil(morph.max(0) - lo) + 20).astype(int)
    labels = np.zeros((size[1], size[0]), np.int32)
    for k, (x, y) in enumerate(morph - lo):
        cv2.circle(labels, (int(round(x)), int(round(y))), radius, k + 1, -1)
    corners = np.array([[0, 0, 1], [size[0], 0, 1], [0, size[1], 1], [size[0], size[1], 1.0]])
    corners[:, :2] += lo
    he_corners = (np.linalg.inv(alignment) @ corners.T).T[:, :2]
    shift = np.eye(3)
    shift[:2, 2] = -lo
    he_size = tuple(int(v) for v in np.ceil(he_corners.max(0)) + 10)
    assert (he_corners.min(0) > 0).all(), "choose an alignment that keeps the H&E at positive pixels"
    he_labels = cv2.warpAffine(labels.astype(np.float32), (shift @ alignment)[:2], he_size,
                               flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP).astype(np.int32)
    rgb = np.full(he_labels.shape + (3,), 255, np.uint8)
    cell = he_labels > 0
    rgb[cell] = np.stack([he_labels[cell] % 256, he_labels[cell] // 256, np.full(cell.sum(), 90)], 1)
    cv2.imwrite(str(path), rgb[..., ::-1])
    return he_labels


def label_centroids(he_labels, n):
    ys, xs = np.nonzero(he_labels)
    ids = he_labels[ys, xs] - 1
    count = np.bincount(ids, minlength=n)
    return np.column_stack([np.bincount(ids, xs, n) / np.maximum(count, 1),
                            np.bincount(ids, ys, n) / np.maximum(count, 1)]), count


def alignment_for(xy_um, pixel_size=0.2125):
    """H&E px -> morphology px: rotated by about 80 degrees, scaled by 1.29 with a little shear, shifted so
    that the cells' H&E pixels start near (60, 60)."""
    m = np.array([[0.2, 1.27, 0.0], [-1.31, 0.15, 0.0], [0, 0, 1]])
    morph = xy_um / pixel_size
    lo, hi = morph.min(0) - 30, morph.max(0) + 30
    corners = np.array([[x, y] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])])
    he = np.linalg.solve(m[:2, :2], corners.T).T
    m[:2, 2] = m[:2, :2] @ (he.min(0) - 60)
    return m


@pytest.fixture(params=["crop-526-cells", "breast-rep1-6-cells"])
def xenium_outs(request, tmp_path):
    """The real Xenium outputs; crop-526-cells has no experiment.xenium, so it borrows the real one of
    breast-rep1 (only its pixel_size is read)."""
    src = TENX / "xenium" / request.param
    if (src / "experiment.xenium").is_file():
        return src
    outs = tmp_path / "xenium-outs"
    outs.mkdir()
    for name in ("cells.parquet", "cell_feature_matrix.h5"):
        (outs / name).symlink_to(src / name)
    (outs / "experiment.xenium").symlink_to(TENX / "xenium/breast-rep1-6-cells/experiment.xenium")
    return outs


def test_xenium_cells_land_on_their_he_pixel(tmp_path, xenium_outs):
    cells = pd.read_parquet(xenium_outs / "cells.parquet")
    pixel_size = json.loads((xenium_outs / "experiment.xenium").read_text())["pixel_size"]
    assert pixel_size == 0.2125
    xy_um = cells[["x_centroid", "y_centroid"]].to_numpy()
    alignment = alignment_for(xy_um)
    he_labels = warped_he(tmp_path / "he.png", xy_um, pixel_size, alignment)
    np.savetxt(tmp_path / "he_imagealignment.csv", alignment, delimiter=",")
    sample = import_ok(tmp_path, "xenium", xenium_outs, "--he-image", tmp_path / "he.png",
                       "--alignment", tmp_path / "he_imagealignment.csv")
    locs = pd.read_parquet(sample / "locs-raw.parquet")
    ids = [str(v.decode() if isinstance(v, bytes) else v) for v in cells["cell_id"]]
    assert sorted(locs.index) == sorted(ids)
    truth, area = label_centroids(he_labels, len(ids))
    row = pd.Index(ids).get_indexer(locs.index)
    drawn = area[row] > 0  # cells drawn over by a neighbour have no label left to check
    assert drawn.mean() > 0.9
    error = np.abs(locs[["x", "y"]].to_numpy() - truth[row])[drawn]
    assert error.max() <= 1.0, error.max()
    # the opposite reading of the matrix puts the cells far from their pixels: the test tells them apart
    inverse = to_he_pixels(xy_um[row], pixel_size, np.linalg.inv(alignment))
    assert np.median(np.abs(inverse - truth[row])[drawn]) > 100
    expected = pixel_size * np.sqrt(abs(np.linalg.det(alignment[:2, :2])))
    assert float((sample / "pixel-size-raw.txt").read_text()) == pytest.approx(expected, rel=1e-8)
    diameter = np.median(2 * np.sqrt(cells["cell_area"].to_numpy() / np.pi))
    assert float((sample / "radius-raw.txt").read_text()) == pytest.approx(diameter, rel=1e-5)


def test_xenium_genes_without_control_probes(tmp_path, xenium_outs):
    cells = pd.read_parquet(xenium_outs / "cells.parquet")
    xy_um = cells[["x_centroid", "y_centroid"]].to_numpy()
    warped_he(tmp_path / "he.png", xy_um, 0.2125, alignment_for(xy_um))
    np.savetxt(tmp_path / "a.csv", alignment_for(xy_um), delimiter=",")
    sample = import_ok(tmp_path, "xenium", xenium_outs, "--he-image", tmp_path / "he.png", "--alignment",
                       tmp_path / "a.csv")
    _, _, names = matrix_reference(xenium_outs / "cell_feature_matrix.h5")
    with open_counts(sample / "cnts.h5ad") as counts:
        genes = list(counts.genes)
        assert counts.shape == (len(cells), len(genes))
    assert genes == [n for n in names if not n.startswith(("NegControl", "BLANK", "Unassigned", "Deprecated"))]
    assert len(genes) == (27 if len(cells) == 526 else 4)


# ---- #28 item 5: what a new user met on these fixtures


def import_refused(tmp_path, *args):
    """The tool's one error line; nothing left in the output's folder."""
    out = tmp_path / "out" / "sample"
    proc = run_tool("p2g-import", *args, "--out", out, check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert not out.exists() and not (out.parent.exists() and list(out.parent.iterdir()))
    return lines[0]


def test_all_black_placeholder_image_is_refused_at_import(tmp_path):
    """Space Ranger 1.0's tissue_hires_image.png in this fixture is all black: once imported with exit 0, it
    failed only at the mask step."""
    outs = TENX / "visium/human-heart-sr1.0"
    line = import_refused(tmp_path, "visium", outs, "--image", "hires")
    assert str(outs / "spatial/tissue_hires_image.png") in line and "image is blank: every pixel is black" in line


def test_visium_given_a_visium_hd_folder_says_so(tmp_path):
    outs = TENX / "visium-hd/mouse-brain-2um"
    line = import_refused(tmp_path, "visium", outs, "--image", "lowres")
    assert line.startswith(f"error: {outs}: ")
    assert "this looks like a Visium HD output; use p2g-import visium-hd" in line


def test_import_record_counts_each_dropped_feature_once(tmp_path):
    """crop-526-cells: 30 features = 27 genes + 1 negative control probe + 2 unassigned codewords; the record
    counted those 3 both as control features and as not-gene features."""
    src = TENX / "xenium/crop-526-cells"
    outs = tmp_path / "outs"
    outs.mkdir()
    for name in ("cells.parquet", "cell_feature_matrix.h5"):
        (outs / name).symlink_to(src / name)
    (outs / "experiment.xenium").symlink_to(TENX / "xenium/breast-rep1-6-cells/experiment.xenium")
    xy_um = pd.read_parquet(outs / "cells.parquet")[["x_centroid", "y_centroid"]].to_numpy()
    warped_he(tmp_path / "he.png", xy_um, 0.2125, alignment_for(xy_um))
    np.savetxt(tmp_path / "a.csv", alignment_for(xy_um), delimiter=",")
    sample = import_ok(tmp_path, "xenium", outs, "--he-image", tmp_path / "he.png", "--alignment", tmp_path / "a.csv")
    record = json.loads((sample / "import.json").read_text())
    features = [k for k in record["dropped"] if k.endswith("_features")]
    assert record["n_genes"] + sum(record["dropped"][k] for k in features) == 30
    assert record["dropped"]["control_features"] == 3


def test_var_keeps_feature_ids_and_types(tmp_path):
    """As scanpy's read_10x_h5 does: var holds gene_ids and feature_types beside the gene symbols."""
    import anndata
    outs = TENX / "visium/human-heart-sr1.0"
    sample = import_ok(tmp_path, "visium", outs, "--image", "lowres")
    var = anndata.read_h5ad(sample / "cnts.h5ad", backed="r").var
    with h5py.File(outs / "filtered_feature_bc_matrix.h5") as f:
        features = pd.DataFrame({k: [v.decode() for v in f["matrix/features"][k][:]]
                                 for k in ("id", "name", "feature_type")})
    assert list(var.index) == list(features.name)
    assert list(var["gene_ids"]) == list(features.id)
    assert list(var["feature_types"]) == list(features.feature_type)
    try:
        import scanpy
    except ImportError:
        return
    theirs = scanpy.read_10x_h5(outs / "filtered_feature_bc_matrix.h5").var
    assert list(var["gene_ids"]) == list(theirs["gene_ids"])
    assert list(var["feature_types"]) == list(theirs["feature_types"])
