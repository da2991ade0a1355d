"""bench/stain_shift.py: its options, its seeded shift set, and the table and verdict it writes."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import stain_shift  # noqa: E402


def test_help_lists_the_options():
    out = subprocess.run([sys.executable, str(REPO / "bench" / "stain_shift.py"), "--help"],
                         capture_output=True, text=True, check=True).stdout
    for option in ("--stain", "--outdir", "--sections", "--random", "--seed", "--keep-work"):
        assert option in out
    assert "macenko" in out


def test_the_shift_set_is_fixed_and_the_random_shifts_follow_the_seed():
    a = stain_shift.parse(["--outdir", "x", "--random", "2", "--seed", "3"])
    b = stain_shift.parse(["--outdir", "x", "--random", "2", "--seed", "3"])
    c = stain_shift.parse(["--outdir", "x", "--random", "2", "--seed", "4"])
    assert stain_shift.shifts(a) == stain_shift.shifts(b) != stain_shift.shifts(c)
    fixed = stain_shift.shifts(stain_shift.parse(["--outdir", "x"]))
    assert len(fixed) == 7 and len({s.name for s in fixed}) == 7
    names = " ".join(s.name for s in fixed)
    for kind in ("haematoxylin x1.3", "haematoxylin x0.75", "eosin x1.3", "eosin x0.75", "brightness",
                 "white point", "JPEG"):
        assert kind in names
    chosen = stain_shift.shifts(stain_shift.parse(["--outdir", "x", "--shifts", "jpeg-quality-30", "eosin-x1.3"]))
    assert [s.name for s in chosen] == ["JPEG quality 30", "eosin x1.3"]
    with pytest.raises(SystemExit, match="eosin-x2"):
        stain_shift.shifts(stain_shift.parse(["--outdir", "x", "--shifts", "eosin-x2"]))


def test_run_folder_names_say_the_stain_and_extra_options():
    assert stain_shift.run_name(stain_shift.parse(["--outdir", "x", "--stain", "macenko"])) == "stain-macenko"
    assert stain_shift.run_name(stain_shift.parse(["--outdir", "x", "--p2g-args", "--epochs 5"])) == \
        "stain-none-epochs-5"


def test_summary_drops_floor_and_verdict():
    scores = {(None, "C3"): 0.30, (None, "C4"): 0.40,
              ("a", "C3"): 0.28, ("a", "C4"): 0.39, ("b", "C3"): 0.10, ("b", "C4"): 0.41}
    floors = {"C3": 0.17, "C4": 0.25}
    s = stain_shift.summarise(scores, floors, ["C3", "C4"], ["a", "b"])
    assert s["mean_drop"] == pytest.approx((0.02 + 0.01 + 0.20 - 0.01) / 4, abs=1e-4)
    assert s["max_drop"] == pytest.approx(0.20)
    assert s["below_floor"] == ["b (C3)"] and s["complete"] and not s["meets_targets"]
    table = stain_shift.markdown(s, ["C3", "C4"], "t")
    assert "| b | 0.100 (below floor) | +0.200 | 0.410 | -0.010 |" in table
    assert "| colour-ridge floor | 0.170 | – | 0.250 | – |" in table
    good = stain_shift.summarise({k: v for k, v in scores.items() if k[0] != "b"}, floors, ["C3", "C4"], ["a"])
    assert good["meets_targets"] and good["below_floor"] == []
    partial = stain_shift.summarise({k: v for k, v in scores.items() if k != ("b", "C4")}, floors, ["C3", "C4"],
                                    ["a", "b"])
    assert not partial["complete"] and not partial["meets_targets"]
    assert "| b | 0.100 (below floor) | +0.200 | – | – |" in stain_shift.markdown(partial, ["C3", "C4"], "t")
