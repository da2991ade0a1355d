"""p2g-import on broken vendor folders: one line naming the file and the fix, and nothing written."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import run_tool
from synthetic_10x import write_visium, write_visium_hd, write_xenium


@pytest.fixture(scope="module")
def vendors(tmp_path_factory):
    root = tmp_path_factory.mktemp("vendors")
    return {"visium": write_visium(root / "visium", size_um=400),
            "visium-hd": write_visium_hd(root / "hd", size_um=300, bin_um=16),
            "xenium": write_xenium(root / "xenium", size_um=300)}


@pytest.fixture
def visium(vendors, tmp_path):
    shutil.copytree(vendors["visium"]["outs"].parent, tmp_path / "run")
    return tmp_path / "run"


@pytest.fixture
def hd(vendors, tmp_path):
    shutil.copytree(vendors["visium-hd"]["outs"].parent, tmp_path / "run")
    return tmp_path / "run"


@pytest.fixture
def xenium(vendors, tmp_path):
    shutil.copytree(vendors["xenium"]["outs"].parent, tmp_path / "run")
    return tmp_path / "run"


def import_fails(tmp_path, *args, names=None, says=""):
    """Exit 2, one line naming `names` and saying `says`; no sample folder and no partial folder left."""
    out = tmp_path / "out" / "sample"
    proc = run_tool("p2g-import", *args, "--out", out, check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert str(names) in lines[0] and says in lines[0], lines[0]
    assert not out.exists() and not (out.parent.exists() and list(out.parent.iterdir()))
    return lines[0]


def visium_args(run, image=None):
    return ["visium", run / "outs", "--image", image or run / "he-fullres.tif"]


def test_missing_spatial_folder(visium, tmp_path):
    shutil.rmtree(visium / "outs" / "spatial")
    import_fails(tmp_path, *visium_args(visium), names=visium / "outs" / "spatial", says="spatial/ folder is missing")


def test_positions_of_another_run(visium, tmp_path):
    path = visium / "outs" / "spatial" / "tissue_positions.csv"
    positions = pd.read_csv(path)
    positions["barcode"] = positions["barcode"].str.replace("SPOT", "OTHER")
    positions.to_csv(path, index=False)
    import_fails(tmp_path, *visium_args(visium), names=path, says="have no position")


@pytest.mark.parametrize("key", ["spot_diameter_fullres", "tissue_hires_scalef"])
def test_missing_scale_factor(visium, tmp_path, key):
    path = visium / "outs" / "spatial" / "scalefactors_json.json"
    factors = json.loads(path.read_text())
    del factors[key]
    path.write_text(json.dumps(factors))
    import_fails(tmp_path, *visium_args(visium, "hires"), names=path, says=f"'{key}' is missing")


def test_missing_scalefactors_file(visium, tmp_path):
    path = visium / "outs" / "spatial" / "scalefactors_json.json"
    path.unlink()
    import_fails(tmp_path, *visium_args(visium), names=path, says="scale factors are missing")


@pytest.mark.parametrize("which", ["hires", "lowres"])
def test_hires_given_as_full_resolution(visium, tmp_path, which):
    """The common mistake: the image from spatial/ (or a copy of it) passed as the full-resolution H&E."""
    copy = tmp_path / "my-he.png"
    shutil.copy(visium / "outs" / "spatial" / f"tissue_{which}_image.png", copy)
    message = import_fails(tmp_path, *visium_args(visium, copy), names=copy, says=f"looks like the {which} image")
    assert f"--image {which}" in message


def test_image_missing(visium, tmp_path):
    import_fails(tmp_path, *visium_args(visium, tmp_path / "nope.tif"), names=tmp_path / "nope.tif",
                 says="image file is missing")


def test_unsupported_image_format(visium, tmp_path):
    (tmp_path / "slide.kfb").write_bytes(b"KFB\x00")  # KFBio's format: neither OpenSlide nor tifffile reads it
    import_fails(tmp_path, *visium_args(visium, tmp_path / "slide.kfb"), names=tmp_path / "slide.kfb",
                 says="unsupported image format")


def test_missing_matrix(visium, tmp_path):
    (visium / "outs" / "filtered_feature_bc_matrix.h5").unlink()
    import_fails(tmp_path, *visium_args(visium), names=visium / "outs" / "filtered_feature_bc_matrix.h5",
                 says="no feature-barcode matrix")


def test_matrix_that_is_not_hdf5(visium, tmp_path):
    path = visium / "outs" / "filtered_feature_bc_matrix.h5"
    path.write_text("barcode,gene\n")
    import_fails(tmp_path, *visium_args(visium), names=path, says="is not an HDF5 file")


def test_visium_hd_bin_size_absent(hd, tmp_path):
    message = import_fails(tmp_path, "visium-hd", hd / "outs", "--image", "hires",
                           names=hd / "outs" / "binned_outputs" / "square_008um", says="no 8 µm bins")
    assert "square_016um" in message and "--bin-size 16" in message


def test_visium_folder_given_to_visium_hd(visium, tmp_path):
    import_fails(tmp_path, "visium-hd", visium / "outs", "--image", "hires",
                 names=visium / "outs" / "binned_outputs", says="not a Visium HD output")


def test_visium_hd_all_zero_counts(hd, tmp_path):
    from synthetic_10x import write_10x_h5
    import scipy.sparse as sp
    bins = hd / "outs" / "binned_outputs" / "square_016um"
    positions = pd.read_parquet(bins / "spatial" / "tissue_positions.parquet")
    barcodes = positions.barcode[positions.in_tissue == 1].tolist()
    write_10x_h5(bins / "filtered_feature_bc_matrix.h5", sp.csr_matrix((len(barcodes), 3), dtype=np.int32),
                 barcodes, ["A", "B", "C"])
    import_fails(tmp_path, "visium-hd", hd / "outs", "--bin-size", 16, "--image", "hires",
                 names=bins / "filtered_feature_bc_matrix.h5", says="holds no counts")


def xenium_args(run, alignment=None):
    return ["xenium", run / "outs", "--he-image", run / "he_image.ome.tif",
            "--alignment", alignment or run / "he_imagealignment.csv"]


def test_xenium_keypoints_file_instead_of_matrix(xenium, tmp_path):
    path = tmp_path / "keypoints.csv"
    path.write_text("fixedX,fixedY,alignmentX,alignmentY\n10.5,20.1,300.2,401.9\n11.5,25.1,310.2,421.9\n")
    import_fails(tmp_path, *xenium_args(xenium, path), names=path, says="is a keypoints table")


@pytest.mark.parametrize("text, says", [("1,0,0\n0,1,0\n", "not a 3 x 3 matrix"),
                                        ("1,0,0\n0,1,0\n0.001,0,1\n", "not an affine matrix"),
                                        ("1,2,0\n2,4,0\n0,0,1\n", "singular")])
def test_xenium_alignment_that_is_not_an_affine_matrix(xenium, tmp_path, text, says):
    path = tmp_path / "matrix.csv"
    path.write_text(text)
    import_fails(tmp_path, *xenium_args(xenium, path), names=path, says=says)


def test_xenium_inverted_alignment(xenium, tmp_path):
    m = np.loadtxt(xenium / "he_imagealignment.csv", delimiter=",")
    path = tmp_path / "inverted.csv"
    np.savetxt(path, np.linalg.inv(m), delimiter=",")
    message = import_fails(tmp_path, *xenium_args(xenium, path), names=path, says="fall inside")
    assert "inverse matrix would fit" in message


def test_xenium_alignment_of_another_image(xenium, tmp_path):
    m = np.loadtxt(xenium / "he_imagealignment.csv", delimiter=",")
    m[:2, 2] += 5000
    path = tmp_path / "other.csv"
    np.savetxt(path, m, delimiter=",")
    import_fails(tmp_path, *xenium_args(xenium, path), names=path, says="fall inside")


def test_xenium_without_experiment_file(xenium, tmp_path):
    (xenium / "outs" / "experiment.xenium").unlink()
    import_fails(tmp_path, *xenium_args(xenium), names=xenium / "outs" / "experiment.xenium",
                 says="pixel size")


def test_xenium_cells_of_another_run(xenium, tmp_path):
    path = xenium / "outs" / "cells.parquet"
    cells = pd.read_parquet(path)
    cells["cell_id"] = cells["cell_id"].str.replace("cell", "other")
    cells.to_parquet(path, index=False)
    import_fails(tmp_path, *xenium_args(xenium), names=path, says="are not in this table")


def test_existing_folder_is_never_replaced(visium, tmp_path):
    """A folder that holds anything but an earlier import stays as it is."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    proc = run_tool("p2g-import", *visium_args(visium), "--out", out, check=False)
    assert proc.returncode == 2 and "was not written by p2g-import" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "my notes"


def test_reimport_replaces_only_its_own_output(visium, tmp_path):
    out = tmp_path / "sample"
    run_tool("p2g-import", *visium_args(visium, "hires"), "--out", out)
    first = json.loads((out / "import.json").read_text())
    run_tool("p2g-import", *visium_args(visium), "--out", out)
    second = json.loads((out / "import.json").read_text())
    assert first["image"]["which"] == "hires" and second["image"]["which"] == "full-resolution"
    assert sorted(p.name for p in out.iterdir()) == ["cnts.h5ad", "he-raw.tif", "import.json", "locs-raw.parquet",
                                                    "pixel-size-raw.txt", "pixel-size.txt", "radius-raw.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial or old folder left


def test_help_of_the_tool_and_each_command():
    """The pipeline's contract test reads each sub-command's --help for its flags."""
    top = run_tool("p2g-import", "--help")
    assert all(c in top.stdout for c in ("visium", "visium-hd", "xenium"))
    flags = {"visium": ["--image", "--out"], "visium-hd": ["--image", "--out", "--bin-size"],
             "xenium": ["--he-image", "--alignment", "--out"]}
    for command, expected in flags.items():
        text = run_tool("p2g-import", command, "--help").stdout
        assert text.startswith(f"usage: p2g-import {command}") and all(f in text for f in expected), text
    proc = run_tool("p2g-import", "visum", check=False)
    assert proc.returncode == 2 and "'visum' is not a command" in proc.stderr


def test_all_white_image_is_refused_at_import(visium, tmp_path):
    """A blank export used to import with exit 0 and fail only at the mask step."""
    import tifffile
    shape = tifffile.imread(visium / "he-fullres.tif").shape
    white = tmp_path / "white.tif"
    tifffile.imwrite(white, np.full(shape, 255, np.uint8), photometric="rgb")
    import_fails(tmp_path, *visium_args(visium, white), names=white, says="image is blank: every pixel is white")
