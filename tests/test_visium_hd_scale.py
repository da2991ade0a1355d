"""bench/visium_hd_scale.py at a tiny size: its outs/ folder imports, stays sparse and its counts follow the H&E."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from conftest import REPO
from pixel2gene.importers.prefix import write_prefix
from pixel2gene.importers.visium_hd import import_visium_hd
from pixel2gene.io.counts import open_counts


def load_bench():
    spec = importlib.util.spec_from_file_location("visium_hd_scale", REPO / "bench" / "visium_hd_scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    bench = load_bench()
    root = tmp_path_factory.mktemp("hd")
    made = bench.generate(root / "data", bins_side=40, n_genes=600, nonzero=0.01, tissue=0.8, seed=3)
    sample = write_prefix(root / "S", import_visium_hd(made["outs"], made["image"], 8))
    return bench, made, sample


def test_generated_outs_folder_imports_at_the_vendor_pixel_size(imported):
    bench, made, sample = imported
    rec = json.loads((sample / "import.json").read_text())
    assert rec["n_bins"] == made["bins_in_tissue"] == pytest.approx(0.8 * 40 * 40, rel=0.02)
    assert rec["n_genes"] == 600
    assert float((sample / "pixel-size-raw.txt").read_text()) == pytest.approx(0.2738)
    assert float((sample / "radius-raw.txt").read_text()) == 8
    assert (sample / "he-raw.tif").is_symlink()  # the image is linked, not copied
    assert (sample / "he-raw.tif").resolve() == Path(made["image"]).resolve()
    side = int(np.ceil(40 * 8 / 0.2738))
    with tifffile.TiffFile(made["image"]) as tif:
        assert tif.pages[0].is_tiled and tif.pages[0].shape == (side, side, 3)


def test_counts_are_sparse_with_the_asked_density(imported):
    bench, made, sample = imported
    with open_counts(sample / "cnts.h5ad") as counts:
        nnz = sum(block.nnz for _, block in counts.blocks())
        assert counts.shape == (made["bins_in_tissue"], 600)
    assert nnz == made["nonzero"]
    assert nnz / (made["bins_in_tissue"] * 600) == pytest.approx(0.01, rel=0.25)


def test_bins_sit_on_tissue_and_markers_follow_the_painted_regions(imported):
    bench, made, sample = imported
    locs = pd.read_parquet(sample / "locs-raw.parquet")
    image = tifffile.imread(made["image"])
    pixels = image[locs.y.round().astype(int), locs.x.round().astype(int)].astype(int)
    assert (np.abs(pixels - bench.GLASS).max(1) > 12).mean() > 0.9  # glass is grey 242 +- 8 noise
    # the region of each bin, from the same colours the painter used (bin centres, away from nuclei mostly)
    colour = np.abs(pixels[:, None, :] - bench.COLOURS[None].astype(int)).sum(2)
    region = colour.argmin(1)
    clear = colour.min(1) < 30
    with open_counts(sample / "cnts.h5ad") as counts:
        y, _ = counts.take(locs.index, counts.genes[:30])  # the 30 most abundant genes mark regions 0, 1, 2, ...
    y = y.toarray()
    for k in range(3):
        own = y[np.ix_(clear & (region == k), np.arange(k, 30, 3))].mean()
        other = y[np.ix_(clear & (region != k), np.arange(k, 30, 3))].mean()
        assert own > 2.5 * other, (k, own, other)


def test_help_names_the_options():
    out = subprocess.run([sys.executable, str(REPO / "bench" / "visium_hd_scale.py"), "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for option in ("--out", "--bins-side", "--epochs", "--keep"):
        assert option in out.stdout
    assert "812" in out.stdout  # the real section's side is the default
