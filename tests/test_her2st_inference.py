"""Real data, inference: HER2ST patient C (legacy ST, 100 µm spots), train on C2, predict C3 and C4.

Runs only when ../shared/data/her2st is beside the repository. Default settings on the CPU; each section
must clear the colour-ridge floor that the referee's `floor` command prints for it by INFERENCE_MARGIN
(composition r, top 100 genes).
"""
import json
import shutil

import pytest

from realdata import DATA, MARKS, bench, run_on_real_data

pytestmark = MARKS
# inference (C2 -> C3, C4) with the 512 µm folds and context 8 cleared the floor by 0.163 and 0.156
# (docs/benchmarks.md): the bar is issue #13's target for these splits, floor + 0.10
INFERENCE_MARGIN = 0.10


@pytest.fixture(scope="module")
def inference(tmp_path_factory):
    out = tmp_path_factory.mktemp("her2st-inference")
    run_on_real_data("--train", DATA / "C2/", "--predict", DATA / "C3/", "--predict", DATA / "C4/", "--outdir", out,
                     "--truth", f"C3={DATA}/C3/truth/", "--map-top", 4)
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
