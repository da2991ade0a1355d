"""What P2G_IMPORT stages of a 10x output (issue #27 A6).

lib/TenxInputs.groovy lists it for the pipeline; `p2g-import ... --list-inputs` prints what the
importers' own file finder reads. On the real outputs in ../shared/data/10x (when present) and on
synthetic ones with each layout's alternatives (a header row or none, csv or parquet, .h5 or a Matrix
Market folder, images beside the bins or in outs/spatial/, the folder above outs/), the two lists are
equal; and a folder holding only the listed files imports to the same sample, or fails with the same
error, as the whole folder: nothing the import reads is left out.
"""
import gzip
import json
import shutil
from pathlib import Path

import h5py
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

from conftest import SHARED, run_tool
from pixel2gene.io.counts import open_counts
from synthetic_10x import write_visium, write_visium_hd, write_xenium
from test_pipeline_lib import run_calls

TENX = SHARED / "data" / "10x"
FULL = "full"  # a full-resolution H&E given apart from the output (the image the sample's row names)

# (id, format, output: a folder of ../shared/data/10x or 'syn:<name>' of `synthetic`, bin size, image)
CASES = [
    ("heart-lowres", "visium", "visium/human-heart-sr1.0", None, "lowres"),
    ("heart-hires", "visium", "visium/human-heart-sr1.0", None, "hires"),
    ("heart-full", "visium", "visium/human-heart-sr1.0", None, FULL),  # both PNGs, to name a wrong image
    ("brain-lowres", "visium", "visium/mouse-brain-sr1.1", None, "lowres"),  # above outs/; raw .h5 before mtx
    ("brain-full", "visium", "visium/mouse-brain-sr1.1", None, FULL),  # no hires PNG there
    ("sr2-hires", "visium", "visium/sr2-layout", None, "hires"),  # positions with a header, mtx folder
    ("hd-2um-lowres", "visium-hd", "visium-hd/mouse-brain-2um", 2, "lowres"),  # counts all zero: fails
    ("hd-2um-full", "visium-hd", "visium-hd/mouse-brain-2um", 2, FULL),  # no outs/spatial: the bins' own
    ("hd-no-8um", "visium-hd", "visium-hd/mouse-brain-2um", 8, "lowres"),  # both refuse
    ("breast-xenium", "xenium", "xenium/breast-rep1-6-cells", None, FULL),
    ("crop-xenium", "xenium", "xenium/crop-526-cells", None, FULL),  # no experiment.xenium: both refuse
    ("syn-sr1-lowres", "visium", "syn:sr1", None, "lowres"),
    ("syn-sr1-hires", "visium", "syn:sr1", None, "hires"),
    ("syn-sr1-full", "visium", "syn:sr1", None, FULL),
    ("syn-corner-wrong-image", "visium", "syn:corner", None, "wrong"),  # its hires PNG given as full resolution
    ("syn-mtx-full", "visium", "syn:mtx", None, FULL),
    ("syn-hd-hires", "visium-hd", "syn:hd", 16, "hires"),
    ("syn-hd-full", "visium-hd", "syn:hd", 16, FULL),
    ("syn-hd-outs-images", "visium-hd", "syn:hd-outs-images", 8, "lowres"),  # only outs/spatial/ has PNGs
    ("syn-xenium", "xenium", "syn:xenium", None, FULL),
    ("syn-xenium-csv-mtx", "xenium", "syn:xenium-csv-mtx", None, FULL),
]
IDS = [c[0] for c in CASES]
# Imported whole and from the listed files only: every synthetic case, and the real ones an image is
# there for (the real Xenium outputs ship no H&E).
IMPORTED = [c for c in IDS if c.startswith("syn-")] + ["heart-lowres", "brain-lowres", "hd-2um-lowres"]


def to_mtx(h5_path: Path) -> None:
    """Replace a 10x .h5 by the Matrix Market folder of the same name, gzipped as Space Ranger writes it."""
    folder = h5_path.with_suffix("")
    folder.mkdir()
    with h5py.File(h5_path) as f:
        m = f["matrix"]
        x = sp.csc_matrix((m["data"][:], m["indices"][:], m["indptr"][:]), shape=tuple(m["shape"][:]))
        features = zip(*(m["features"][k][:].astype(str) for k in ("id", "name", "feature_type")))
        barcodes = m["barcodes"][:].astype(str)
    with gzip.open(folder / "matrix.mtx.gz", "wb") as fh:
        scipy.io.mmwrite(fh, x, symmetry="general")
    with gzip.open(folder / "features.tsv.gz", "wt") as fh:
        fh.writelines("\t".join(row) + "\n" for row in features)
    with gzip.open(folder / "barcodes.tsv.gz", "wt") as fh:
        fh.writelines(b + "\n" for b in barcodes)
    h5_path.unlink()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """name -> the folder above a synthetic output (outs/ and its H&E), one per alternative of the layouts."""
    root = tmp_path_factory.mktemp("tenx")
    write_visium(root / "sr1", size_um=300, sr1=True)
    write_visium(root / "mtx", size_um=300)
    to_mtx(root / "mtx/outs/filtered_feature_bc_matrix.h5")
    write_visium_hd(root / "hd", size_um=200, bin_um=16)
    write_visium_hd(root / "hd-outs-images", size_um=200, bin_um=8)
    for png in (root / "hd-outs-images/outs/binned_outputs/square_008um/spatial").glob("*.png"):
        png.unlink()
    write_xenium(root / "xenium", size_um=200)
    write_xenium(root / "xenium-csv-mtx", size_um=200)
    cells = root / "xenium-csv-mtx/outs/cells.parquet"
    pd.read_parquet(cells).to_csv(cells.with_name("cells.csv.gz"), index=False)
    cells.unlink()
    to_mtx(root / "xenium-csv-mtx/outs/cell_feature_matrix.h5")
    tissue_in_a_corner(write_visium(root / "corner", size_um=300, hires_scalef=0.1))
    return {p.name: p for p in root.iterdir()}


def tissue_in_a_corner(made) -> None:
    """Spots in tissue only in the section's top-left quarter, and the hires PNG beside outs/ as my-he.png:
    given as the full-resolution H&E, only the PNG's size (not how far the positions reach) tells that it
    is the hires image, so the import reads that PNG to say so."""
    path = made["outs"] / "spatial/tissue_positions.csv"
    positions = pd.read_csv(path)
    quarter = positions[["pxl_col_in_fullres", "pxl_row_in_fullres"]].max().max() / 4
    corner = (positions.pxl_col_in_fullres < quarter) & (positions.pxl_row_in_fullres < quarter)
    positions["in_tissue"] = (positions.in_tissue.astype(bool) & corner).astype(int)
    assert positions.in_tissue.sum() >= 1
    positions.to_csv(path, index=False)
    shutil.copy(made["outs"] / "spatial/tissue_hires_image.png", made["outs"].parent / "my-he.png")


def case(name, synthetic):
    """(format, outs, bin size, image, the options p2g-import takes besides OUTS and --out)."""
    _, fmt, where, bin_size, image = CASES[IDS.index(name)]
    if where.startswith("syn:"):
        above = synthetic[where[4:]]
        outs = above / "outs"
    elif TENX.is_dir():
        above = outs = TENX / where
    else:
        pytest.skip(f"{TENX} is not present (real 10x fixtures)")
    if fmt == "xenium":
        return fmt, outs, None, image, ["--he-image", above / "he_image.ome.tif", "--alignment",
                                        above / "he_imagealignment.csv"]
    path = {FULL: above / "he-fullres.tif", "wrong": above / "my-he.png"}.get(image, image)
    return fmt, outs, bin_size, str(path), ["--image", path] + (["--bin-size", bin_size] if bin_size else [])


def listed_by_the_tool(fmt, outs, options, tmp_path):
    """p2g-import's list, or None when it refuses the folder."""
    proc = run_tool("p2g-import", fmt, outs, *options, "--out", tmp_path / "unused", "--list-inputs", check=False)
    assert proc.returncode in (0, 2), proc.stderr
    assert not (tmp_path / "unused").exists()
    return proc.stdout.splitlines() if proc.returncode == 0 else None


@pytest.fixture(scope="module")
def listed_by_the_pipeline(synthetic):
    """case id -> lib/TenxInputs.groovy's list, or None when it refuses the folder (one JVM for all)."""
    found = {}
    for name in IDS:
        try:
            fmt, outs, bin_size, image, _ = case(name, synthetic)
        except pytest.skip.Exception:
            continue
        found[name] = ("TenxInputs", "paths", (fmt, str(outs), bin_size, image, {"on_disk": True}))
    results = run_calls(list(found.values()))
    return {name: None if isinstance(r, dict) and "error" in r else r for name, r in zip(found, results)}


@pytest.mark.parametrize("name", IDS)
def test_the_pipeline_stages_what_the_importer_reads(name, synthetic, listed_by_the_pipeline, tmp_path):
    fmt, outs, _, _, options = case(name, synthetic)
    by_tool = listed_by_the_tool(fmt, outs, options, tmp_path)
    assert listed_by_the_pipeline[name] == by_tool
    refused = {"hd-no-8um", "crop-xenium"}
    assert (by_tool is None) == (name in refused)


def only_listed(outs: Path, listed, dest: Path) -> Path:
    """A copy of `outs` with only the listed files and folders, in the same places."""
    for rel in listed:
        src, dst = outs / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dst) if src.is_dir() else shutil.copy2(src, dst)
    return dest


def imported(fmt, outs, options, out):
    """What an import of `outs` gives, with the folder's own path taken out: the sample, or its error line."""
    proc = run_tool("p2g-import", fmt, outs, *options, "--out", out, check=False)
    if proc.returncode:
        return proc.stderr.strip().replace(str(outs), "OUTS")
    with open_counts(out / "cnts.h5ad") as counts:
        values, _ = counts.take(counts.ids, counts.genes)
        table = {"ids": list(counts.ids), "genes": list(counts.genes), "counts": values.toarray().tolist()}
    record = json.loads((out / "import.json").read_text().replace(str(outs.resolve()), "OUTS")
                        .replace(str(outs), "OUTS"))
    del record["written"]
    texts = {p.name: p.read_text() for p in out.iterdir() if p.suffix == ".txt"}
    return dict(table, record=record, texts=texts, names=sorted(p.name for p in out.iterdir()),
                locs=pd.read_parquet(out / "locs-raw.parquet").to_dict("list"))


@pytest.mark.parametrize("name", IMPORTED)
def test_the_listed_files_alone_import_the_same(name, synthetic, tmp_path):
    fmt, outs, _, _, options = case(name, synthetic)
    listed = listed_by_the_tool(fmt, outs, options, tmp_path)
    subset = only_listed(outs, listed, tmp_path / "subset")
    whole = imported(fmt, outs, options, tmp_path / "whole")
    assert imported(fmt, subset, options, tmp_path / "from-subset") == whole
    if name in ("hd-2um-lowres", "syn-corner-wrong-image"):  # the same error, not a missing-file one
        assert isinstance(whole, str) and ("holds no counts" in whole or "looks like the hires image" in whole)
    else:
        assert isinstance(whole, dict), whole
