"""Vendor output -> p2g-import -> p2g-run -> results, for Visium, Visium HD and Xenium.

Each synthetic section has three tissue regions with their own marker genes;
the imported sample trains the model and is enhanced, and the predicted maps
must put each marker's highest expression in its region. A wrong coordinate
mapping (swapped axes, wrong scale, inverted alignment) pairs counts with the
wrong histology and fails this.
"""
import anndata as ad
import numpy as np
import pytest

from conftest import run_tool
from synthetic import expression_profiles
from synthetic_10x import write_visium, write_visium_hd, write_xenium

SIZE_UM = 700.0


def import_args(vendor, made):
    run = made["outs"].parent
    if vendor == "visium":  # the full-resolution H&E given to Space Ranger
        return ["visium", made["outs"], "--image", made["image"]]
    if vendor == "visium-hd":  # the hires image in spatial/, 1 µm/px
        return ["visium-hd", run, "--bin-size", 8, "--image", "hires"]
    return ["xenium", made["outs"], "--he-image", made["image"], "--alignment", made["alignment"]]


@pytest.fixture(scope="module", params=["visium", "visium-hd", "xenium"])
def vendor_run(request, tmp_path_factory):
    vendor = request.param
    root = tmp_path_factory.mktemp(vendor)
    write = {"visium": write_visium, "visium-hd": write_visium_hd, "xenium": write_xenium}[vendor]
    made = write(root / "vendor", size_um=SIZE_UM)
    sample = root / "S1"
    run_tool("p2g-import", *import_args(vendor, made), "--out", sample)
    out = root / "results"
    proc = run_tool("p2g-run", "--train", f"{sample}/", "--predict", f"{sample}/", "--outdir", out,
                    "--encoder", "texture", "--epochs", 40, "--n-folds", 2, "--threads", 1, "--map-top", 1)
    return {"vendor": vendor, "made": made, "sample": sample, "out": out, "log": proc.stderr}


def test_predictions_recover_the_regions(vendor_run):
    result = vendor_run["out"] / "S1"
    mask = np.load(result / "mask.npy")
    regions, px_um = vendor_run["made"]["regions"], vendor_run["made"]["px_um"]
    # superpixel centres (8 µm at 0.5 µm/px) in pixels of the section's full-resolution region map
    ii, jj = np.mgrid[0:mask.shape[0], 0:mask.shape[1]]
    y = np.minimum(((ii + 0.5) * 8 / px_um).astype(int), regions.shape[0] - 1)
    x = np.minimum(((jj + 0.5) * 8 / px_um).astype(int), regions.shape[1] - 1)
    truth = regions[y, x]
    assert (mask == (truth >= 0)).mean() > 0.95
    profiles = expression_profiles(30, np.random.default_rng(1234))
    hits = 0
    for g in range(30):
        grid = np.load(result / "cnts-super" / f"GENE{g:03d}.npy")
        means = [np.nanmean(grid[mask & (truth == r)]) for r in range(3)]
        hits += int(np.argmax(means) == np.argmax(profiles[:, g]))
    assert hits >= 27, (vendor_run["vendor"], hits)


def test_results_carry_the_measured_counts(vendor_run):
    adata = ad.read_h5ad(vendor_run["out"] / "S1.h5ad")
    genes = set(adata.var_names)
    assert {f"GENE{g:03d}" for g in range(30)} <= genes and not any(g.startswith(("NegControl", "BLANK")) for g in genes)
    assert "measured" in adata.layers and adata.obs["measured"].any()
    assert (vendor_run["out"] / "S1.html").stat().st_size > 0
    assert (vendor_run["out"] / "evaluation" / "S1.held-out" / "summary.json").is_file()
