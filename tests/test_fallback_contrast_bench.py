"""bench/fallback_contrast.py on a made-up section: a prediction that keeps the held-out tissue's contrast reads
as such, a flat one as none (the referee's own spot sums and normalisation; skipped without ../shared)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("P2G_SHARED") or REPO.parent / "shared")
sys.path.insert(0, str(REPO / "bench"))
import fallback_contrast  # noqa: E402

needs_referee = pytest.mark.skipif(not (SHARED / "bench" / "her2st.py").is_file(),
                                   reason="the referee's scorer (../shared/bench/her2st.py) is not here")
GENES = ["G1", "G2", "G3"]


def spots_folder(path: Path, counts: pd.DataFrame, locs: pd.DataFrame) -> Path:
    path.mkdir(parents=True)
    counts.to_csv(path / "cnts.tsv", sep="\t")
    locs.to_csv(path / "locs-raw.tsv", sep="\t")
    return path


def prediction(path: Path, top: dict, bottom: dict) -> Path:
    (path / "cnts-super").mkdir(parents=True)
    for g in GENES:
        grid = np.full((40, 40), bottom[g], np.float32)
        grid[:20] = top[g]
        np.save(path / "cnts-super" / f"{g}.npy", grid)
    return path


def test_help_lists_the_inputs():
    out = subprocess.run([sys.executable, str(REPO / "bench" / "fallback_contrast.py"), "--help"],
                         capture_output=True, text=True, check=True).stdout
    for flag in ("--keep", "--colour", "--truth", "--held", "--pixel-size-raw", "--train-cnts"):
        assert flag in out


@needs_referee
def test_a_flat_prediction_has_no_contrast_and_a_faithful_one_the_truths(tmp_path):
    # four 100 um spots on a 0.5 um/px image; the top two are the held-out (unfamiliar) tissue, richer in G1
    locs = pd.DataFrame({"x": [100.0, 500.0, 100.0, 500.0], "y": [100.0, 100.0, 500.0, 520.0]},
                        index=["a", "b", "c", "d"])
    counts = pd.DataFrame([[40, 10, 10], [38, 11, 10], [10, 12, 30], [11, 10, 33]], index=locs.index, columns=GENES)
    whole = spots_folder(tmp_path / "whole", counts, locs)
    held = spots_folder(tmp_path / "held", counts.loc[["a", "b"]], locs.loc[["a", "b"]])
    (tmp_path / "px.txt").write_text("0.5")
    keep = prediction(tmp_path / "keep", {"G1": 4, "G2": 1, "G3": 1}, {"G1": 1, "G2": 1, "G3": 3})
    flat = prediction(tmp_path / "colour", {g: 2 for g in GENES}, {g: 2 for g in GENES})
    a = fallback_contrast.parse(map(str, ["--keep", keep, "--colour", flat, "--truth", whole, "--held", held,
                                          "--pixel-size-raw", tmp_path / "px.txt", "--train-cnts", whole / "cnts.tsv"]))
    out = fallback_contrast.compare(fallback_contrast.referee(), a)
    assert (out["spots"], out["held_out"], out["genes"]) == (4, 2, 3)
    assert out["colour"]["contrast_size"] == 0 and out["colour"]["whole_r"] == 0
    assert out["colour"]["contrast_r_with_truth"] is None
    assert out["keep"]["contrast_size"] > 0.5 and out["keep"]["contrast_r_with_truth"] > 0.9
    assert out["keep"]["whole_r"] > 0.5
    assert out["truth"]["contrast_size"] > 0.5
