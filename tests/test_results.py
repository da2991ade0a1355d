"""Results people use: the .h5ad, the PNG maps, the accuracy metrics and the HTML report."""
import json
import shutil
import subprocess

import cv2
import numpy as np
import pandas as pd
import pytest

from conftest import run_tool
from pixel2gene.evaluation.metrics import pearson, rmse, spearman, ssim
from pixel2gene.evaluation.report import SSIM_MARGIN, evaluate
from pixel2gene.evaluation.truth import Bins
from synthetic import expression_profiles
from pixel2gene.features import DEFAULT_ENCODER

anndata = pytest.importorskip("anndata")


def test_h5ad_places_superpixels_on_the_original_image(chain):
    """obsm['spatial'] (he-raw pixels) must put each region's marker genes over that region of the image."""
    a = anndata.read_h5ad(chain["out"] / "test.h5ad")
    regions = chain["test_regions"]  # region label of every he-raw pixel
    x, y = a.obsm["spatial"].T
    assert x.max() < regions.shape[1] and y.max() < regions.shape[0]
    region = regions[y.astype(int), x.astype(int)]
    assert (region >= 0).mean() > 0.95  # superpixels land on the tissue disc, not on glass
    profiles = expression_profiles(30, np.random.default_rng(1234))
    X = np.asarray(a.X)
    assert X.dtype == np.float32 and a.shape == (int(np.load(chain["out"] / "test" / "mask.npy").sum()), 30)
    for g in range(30):
        gene = f"GENE{g:03d}"
        means = [X[region == r, a.var_names.get_loc(gene)].mean() for r in range(3)]
        assert np.argmax(means) == np.argmax(profiles[:, g]), (gene, means)
    meta = a.uns["pixel2gene"]
    assert meta["superpixel_px"] == 16 and meta["pixel_size_um"] == 0.5 and meta["encoder"] == DEFAULT_ENCODER
    assert json.loads(meta["run_json"])["training"]["n_folds"] == 3
    lib = a.uns["spatial"]["test"]
    hires, scale = lib["images"]["hires"], lib["scalefactors"]["tissue_hires_scalef"]
    assert abs(hires.shape[0] / scale - regions.shape[0]) < 2 / scale  # the image scanpy draws is he-raw scaled


def test_h5ad_of_a_measured_sample_carries_its_counts(chain):
    a = anndata.read_h5ad(chain["out"] / "train.h5ad")
    counts = pd.read_csv(chain["train"] + "cnts.tsv", sep="\t", index_col=0)
    counts.index = counts.index.astype(str)
    measured = a.layers["measured"].tocsr()
    assert a.obs["measured"].sum() > 0 and a.var["measured"].all()
    for bin_id in counts.index[:10]:
        rows = np.flatnonzero((a.obs["bin"] == bin_id).to_numpy())
        assert len(rows) > 0
        got = np.asarray(measured[rows].sum(0)).ravel()
        np.testing.assert_allclose(got, counts.loc[bin_id, a.var_names].to_numpy(), rtol=1e-4)
    assert not a.obs.loc[~a.obs["measured"], "bin"].astype(str).str.len().any()


def test_h5ad_is_written_when_pandas_makes_strings_arrow_arrays(tmp_path):
    """pandas 3 stores strings as StringArray by default, which anndata's writer refuses unless told to;
    our obs, var and the measured layer's bin ids must stay plain object strings (the H200 run hit this)."""
    import anndata
    import scipy.sparse as sp
    from pixel2gene.artifacts.result import Result
    from pixel2gene.export.anndata import write_h5ad
    mask = np.zeros((6, 5), bool)
    mask[1:5, 1:4] = True
    genes = ["GENE000", "GENE001"]
    result = Result(tmp_path)
    result.start_maps(genes)
    for k, g in enumerate(genes):
        np.save(result.map_file(g), np.full(mask.shape, k + 1, np.float32))
    counts = sp.csr_matrix(np.array([[3, 0], [1, 2]], np.float32))
    centres = np.array([[40.0, 24.0], [40.0, 56.0]])  # (x, y) on the 16 px superpixel grid, inside the mask
    uns = {"pixel2gene": {"sample": "s"}}
    with pd.option_context("future.infer_string", True):  # pandas 2.x opting in to pandas 3's default
        write_h5ad(tmp_path / "s.h5ad", result, genes, mask, 1.0, uns,
                   measured=(counts, ["b1", "b2"], genes, centres, 20.0))
    a = anndata.read_h5ad(tmp_path / "s.h5ad")
    assert a.shape == (12, 2) and list(a.var_names) == genes and a.obs_names[0] == "r1_c1"
    assert np.allclose(a.X[:, 1], 2) and a.obs["measured"].sum() > 0
    assert set(a.obs["bin"].dropna()) <= {"", "b1", "b2"} and a.layers["measured"].sum() == counts.sum()


def test_maps_are_drawn_and_not_blank(chain):
    figures = chain["out"] / "figures" / "test"
    info = json.loads((figures / "maps.json").read_text())
    assert len(info["genes"]) >= 4
    for entry in info["genes"] + [{"file": info["overview"]}]:
        img = cv2.imread(str(figures / entry["file"]))
        assert img is not None and min(img.shape[:2]) > 300, entry
        assert img.std() > 20, entry  # a picture, not a flat fill
    gene_map = cv2.imread(str(figures / info["genes"][0]["file"]))
    hsv = cv2.cvtColor(gene_map, cv2.COLOR_BGR2HSV)
    assert (hsv[..., 1] > 120).mean() > 0.1  # the coloured expression layer is there, not only grey H&E
    train_overview = cv2.imread(str(chain["out"] / "figures" / "train" / "overview.png"))
    assert train_overview.shape[1] > 1.8 * cv2.imread(str(figures / "overview.png")).shape[1]  # QC + folds panels


def test_metrics_are_one_and_zero_on_a_perfect_prediction():
    rng = np.random.default_rng(0)
    truth = rng.gamma(2.0, 3.0, (400, 6))
    assert np.allclose(pearson(truth, truth), 1) and np.allclose(spearman(truth, truth), 1)
    assert np.allclose(rmse(truth, truth), 0)
    region = np.zeros((40, 40), bool)
    region[5:35, 5:35] = True
    m = rng.random((40, 40))
    assert ssim(m, m, region) == pytest.approx(1.0)


def test_ranks_are_scipys_to_the_bit():
    """metrics.rank_columns (#31: counting for counts, one sort for the rest) gives rankdata's average ranks:
    counts with many ties, floats with ties, negatives, huge whole numbers, a constant column, NaN."""
    from scipy.stats import rankdata
    from pixel2gene.evaluation.metrics import rank_columns
    rng = np.random.default_rng(3)
    n = 5000
    cols = [rng.poisson(0.4, n), rng.poisson(30, n), rng.gamma(2, 3, n), np.round(rng.normal(0, 2, n), 1),
            rng.integers(0, 1 << 40, n), np.full(n, 7.0), rng.random(n)]
    cols[-1][::7] = np.nan
    for dtype in (np.float32, np.float64):
        a = np.stack(cols, 1).astype(dtype)
        ours, theirs = rank_columns(a), rankdata(a, axis=0)
        assert np.array_equal(ours[:, :-1], theirs[:, :-1])
        assert np.array_equal(np.isnan(ours[:, -1]), np.isnan(theirs[:, -1]))
        assert np.allclose(ours[:, -1], theirs[:, -1], equal_nan=True)


def test_metrics_are_near_zero_on_a_shuffled_prediction():
    rng = np.random.default_rng(1)
    n = 900
    index = np.arange(n)[:, None]  # one superpixel per bin: a 30 x 30 map of bins
    bins = Bins([str(i) for i in range(n)], rng.gamma(2.0, 3.0, (n, 5)), [f"G{g}" for g in range(5)], index)
    # smooth truth so the map has structure; a shuffle destroys it
    yy, xx = np.mgrid[0:30, 0:30]
    bins.counts = np.stack([np.sin(xx / 5 + g) + np.cos(yy / 7) + 3 for g in range(5)], -1).reshape(n, 5)
    perfect = evaluate(bins, bins.counts.copy(), (30, 30))
    assert np.allclose(perfect[["pearson", "spearman", "pearson_fraction", "composition_r", "ssim"]], 1)
    assert np.allclose(perfect["rmse"], 0)
    shuffled = evaluate(bins, bins.counts[rng.permutation(n)], (30, 30))
    assert shuffled["pearson"].abs().max() < 0.15 and shuffled["spearman"].abs().max() < 0.15
    assert shuffled["ssim"].abs().max() < 0.2


def test_many_maps_score_as_each_map_alone():
    """evaluate's SSIM of all genes at once (float32 blurs, inside the region only) is the float64 definition
    applied gene by gene: bins of several sizes, one touching the grid's edge (where the blur reflects), one
    painted over by another, and a gene that is flat inside the region."""
    rng = np.random.default_rng(3)
    shape, disks = (40, 50), []
    for r0, c0, size in [(0, 3, 4), (10, 10, 6), (12, 14, 3), (25, 30, 5), (30, 44, 6)]:
        cells = [r * shape[1] + c for r in range(r0, min(r0 + size, shape[0])) for c in range(c0, min(c0 + size, shape[1]))]
        disks.append(cells)
    index = np.full((len(disks), max(map(len, disks))), -1)
    for b, cells in enumerate(disks):
        index[b, :len(cells)] = cells
    truth = rng.gamma(2.0, 3.0, (len(disks), 4))
    truth[:, 3] = 5.0
    bins = Bins([f"b{b}" for b in range(len(disks))], truth, [f"G{g}" for g in range(4)], index)
    pred = truth * rng.uniform(0.5, 1.5, truth.shape)
    region = bins.region(shape)
    each = [ssim(bins.paint(pred[:, g], shape), bins.paint(truth[:, g], shape), region) for g in range(4)]
    table = evaluate(bins, pred, shape).set_index("gene")
    assert np.allclose(table.loc[[f"G{g}" for g in range(4)], "ssim"], each, atol=1e-5)
    assert abs(each[0] - each[1]) > 1e-3  # the genes differ: a mix-up of columns would show
    window = (slice(0, 40), slice(0, 50))
    painted = bins.paint_window(pred, shape, window)
    assert all(np.array_equal(painted[..., g], bins.paint(pred[:, g], shape)) for g in range(4))
    assert SSIM_MARGIN > 5  # the SSIM window's radius: cells outside the margin never reach a scored cell


def test_held_out_scores_are_honest(chain):
    """Bins scored by the model that never saw them score below the same bins scored in-sample."""
    held = json.loads((chain["out"] / "evaluation" / "train.held-out" / "summary.json").read_text())
    seen = json.loads((chain["out"] / "evaluation" / "train.truth" / "summary.json").read_text())
    assert held["n_bins"] == seen["n_bins"] > 40
    assert 0.5 < held["mean"]["pearson"] < seen["mean"]["pearson"]
    table = pd.read_csv(chain["out"] / "evaluation" / "train.truth" / "metrics.tsv", sep="\t")
    assert list(table.columns[:7]) == ["gene", "pearson", "spearman", "pearson_fraction", "composition_r", "ssim", "rmse"]


def test_evaluate_without_truth_fails_in_one_line(chain, tmp_path):
    w = chain["out"] / "work" / "test"
    proc = run_tool("p2g-evaluate", "--rescaled", w / "rescale", "--mask", w / "mask", "--out", tmp_path / "e",
                    check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--truth-counts" in proc.stderr
    assert not (tmp_path / "e").exists()


@pytest.mark.parametrize("tool", ["p2g-export", "p2g-domains", "p2g-cells"])
def test_a_result_of_another_sample_is_refused_in_one_line(chain, tmp_path, tool):
    """Every step that reads a result beside a rescaled image checks that both are of one sample."""
    extra = {"p2g-export": ["--thumbnail-px", 0], "p2g-domains": [],
             "p2g-cells": ["--segmentation", tmp_path / "cells.npy"]}[tool]
    np.save(tmp_path / "cells.npy", np.ones((4, 4), np.int32))
    out = tmp_path / ("x.h5ad" if tool == "p2g-export" else "x")
    proc = run_tool(tool, "--result", chain["out"] / "train", "--rescaled", chain["out"] / "work" / "test" / "rescale",
                    "--out", out, *extra, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "rescaled sample 'test' is not the result's 'train'" in proc.stderr and not out.exists()


def test_report_is_self_contained(chain):
    page = (chain["out"] / "train.html").read_text()
    assert "<img" in page and "data:image/png;base64," in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    assert "held-out folds" in page and "GENE0" in page and "<svg" in page  # accuracy, gallery, curves


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_report_opens_in_chromium_with_its_gallery(chain, tmp_path):
    url = (chain["out"] / "train.html").as_uri()
    flags = FLAGS + [f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    dom = subprocess.run([CHROMIUM, *flags, "--enable-logging=stderr", "--v=0", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr and "Failed to load resource" not in dom.stderr, dom.stderr[-2000:]
    maps = json.loads((chain["out"] / "figures" / "train" / "maps.json").read_text())
    assert maps["novelty"]  # the gallery: the overview, the novelty map and each gene's map
    domains = (chain["out"] / "domains" / "train").is_dir()  # the domain map joins the gallery
    assert f'data-images="{len(maps["genes"]) + 2 + domains}"' in dom.stdout and 'data-images-ok="yes"' in dom.stdout
    shot = tmp_path / "report.png"
    proc = subprocess.run([CHROMIUM, *flags, "--window-size=1300,2400", f"--screenshot={shot}", url],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    img = cv2.imread(str(shot))
    assert img.shape[:2] == (2400, 1300) and img.std() > 20
