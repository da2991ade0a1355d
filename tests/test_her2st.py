"""Real data: HER2ST patient C (legacy ST, 100 µm spots), scored by the referee's script.

Runs only when ../shared/data/her2st is beside the repository. Default
settings on the CPU; each split must clear the colour-ridge floor that the
scorer's `floor` command prints for it by at least 0.05, 0.08 for inference (composition r,
top 100 genes).
"""
import json
import shutil
import subprocess
import sys

import pytest

from conftest import SHARED, run_tool

DATA = SHARED / "data" / "her2st"
BENCH = SHARED / "bench" / "her2st.py"
MARGIN = 0.05
# inference (C2 -> C3, C4) with --select auto cleared the floor by 0.152 and 0.163 (docs/benchmarks.md):
# a bar of 0.08 leaves room; the held-out block (0.070 over its floor) keeps 0.05
INFERENCE_MARGIN = 0.08

ABSENT = [str(p) for p in (DATA, BENCH) if not p.exists()]
pytestmark = [pytest.mark.realdata,
              pytest.mark.skipif(bool(ABSENT), reason=f"{' and '.join(ABSENT)} not present")]


def bench(*args):
    out = subprocess.run([sys.executable, str(BENCH), *map(str, args)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def inference(tmp_path_factory):
    out = tmp_path_factory.mktemp("her2st-inference")
    run_tool("p2g-run", "--train", DATA / "C2/", "--predict", DATA / "C3/", "--predict", DATA / "C4/", "--outdir", out,
             "--truth", f"C3={DATA}/C3/truth/", "--map-top", 4, "--no-keep-work")
    yield out  # --no-keep-work: CI's disk is small, and both modules' fixtures live until the module ends
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def enhancement(tmp_path_factory):
    out = tmp_path_factory.mktemp("her2st-enhancement")
    run_tool("p2g-run", "--train", DATA / "C2-fold0/", "--predict", DATA / "C2-fold0/", "--outdir", out, "--no-keep-work")
    yield out
    shutil.rmtree(out, ignore_errors=True)


@pytest.mark.parametrize("section", ["C3", "C4"])
def test_inference_on_unseen_sections_clears_the_colour_floor(inference, section):
    truth = DATA / section / "truth"
    score = bench("score", "--pred", inference / section, "--truth-cnts", truth / "cnts.tsv.gz",
                  "--truth-locs", truth / "locs-raw.tsv", "--pixel-size-raw", DATA / section / "pixel-size-raw.txt",
                  "--train-cnts", DATA / "C2" / "cnts.parquet")
    floor = bench("floor", "--train", f"{DATA}/C2/", "--test", f"{DATA}/{section}/",
                  "--truth-cnts", truth / "cnts.tsv.gz", "--truth-locs", truth / "locs-raw.tsv")
    print(section, json.dumps(score), json.dumps(floor))
    assert score["missing_genes"] == 0
    assert score["pearson_norm_mean"] >= floor["pearson_norm_mean"] + INFERENCE_MARGIN, (score, floor)
    if section == "C3":  # our own evaluation agrees with the referee's on the same spots (raw r, top 100 genes)
        ours = json.loads((inference / "evaluation" / "C3.truth" / "summary.json").read_text())
        assert ours["n_bins"] == score["spots"]
        assert abs(ours["mean_top100"]["pearson"] - score["pearson_raw_mean"]) < 0.05, (ours, score)
        assert (inference / "C3.html").stat().st_size > 0 and (inference / "C3.h5ad").stat().st_size > 0


def test_enhancement_of_a_held_out_block_clears_the_colour_floor(enhancement):
    held = DATA / "C2-fold0" / "heldout"
    score = bench("score", "--pred", enhancement / "C2-fold0", "--truth-cnts", held / "cnts.tsv.gz",
                  "--truth-locs", held / "locs-raw.tsv", "--pixel-size-raw", DATA / "C2-fold0" / "pixel-size-raw.txt",
                  "--train-cnts", DATA / "C2-fold0" / "cnts.tsv")
    floor = bench("floor", "--train", f"{DATA}/C2-fold0/", "--test", f"{DATA}/C2-fold0/",
                  "--truth-cnts", held / "cnts.tsv.gz", "--truth-locs", held / "locs-raw.tsv")
    print("heldout", json.dumps(score), json.dumps(floor))
    assert score["pearson_norm_mean"] >= floor["pearson_norm_mean"] + MARGIN, (score, floor)
