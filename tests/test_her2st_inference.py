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


# Issue #26: out-of-fold skill on C2 must rank the genes the way their skill on an unseen section does. Measured
# at 0.80 (Spearman over the 1000 genes, C2 -> C3; docs/benchmarks.md); the bar is well below, so that only a
# skill measure that stopped tracking test skill fails it.
SKILL_RANKING_SPEARMAN = 0.6


def test_out_of_fold_skill_ranks_genes_as_an_unseen_section_does(inference):
    import pandas as pd
    skill = pd.read_csv(inference / "C3" / "skill.tsv", sep="\t").set_index("gene")
    test = pd.read_csv(inference / "evaluation" / "C3.truth" / "metrics.tsv", sep="\t").set_index("gene")
    both = pd.concat([skill["cv_r_composition"], test["composition_r"]], axis=1).dropna()
    rho = both.rank().corr().iloc[0, 1]
    print("Spearman of out-of-fold and C3 composition r over", len(both), "genes:", round(rho, 3))
    assert len(both) > 900 and rho >= SKILL_RANKING_SPEARMAN, rho
    # the genes the report trusts do better on the unseen section than those it greys out
    trusted = skill["skilful"].reindex(both.index)
    assert both["composition_r"][trusted].mean() > both["composition_r"][~trusted].mean() + 0.15  # 0.30 vs 0.03
