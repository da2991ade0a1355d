"""bench/tissue_holdout.py: its options and the tables it prints (the runs themselves take minutes each)."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import tissue_holdout  # noqa: E402


def row(cluster, section, keep, colour, **more):
    tissue = {"novel_fraction": 0.74, "median_novelty": 1.0, "colour_share": 0.35}
    return {"variant": "across", "cluster": cluster, "section": section, "held_out_spots": 65, "train_spots": 103,
            "keep": keep, "colour": colour, "colour_held_out_tissue": tissue, **more}


def test_help_lists_the_options():
    out = subprocess.run([sys.executable, str(REPO / "bench" / "tissue_holdout.py"), "--help"],
                         capture_output=True, text=True, check=True).stdout
    for option in ("--outdir", "--sections", "--clusters", "--across", "--train-also", "--p2g-args"):
        assert option in out


def test_the_across_table_shows_the_floor_and_which_tissue_is_pale():
    rows = [row(0, "C3", 0.107, 0.110, optical_density=0.604, floor=0.0961),
            row(1, "C3", 0.141, 0.141, optical_density=0.71, floor=0.2133)]
    summary = {"tissue_per_cluster": {"C2": [50617, 81296]}, "mean_keep": 0.124, "mean_colour": 0.1255,
               "mean_floor": 0.1547}
    lines = tissue_holdout.across_table(rows, summary).splitlines()
    assert lines[0] == "| tissue superpixels | cluster 0 | cluster 1 |"
    assert lines[2] == "| C2 | 38% (50617) | 62% (81296) |"
    assert "| 0 | C3 | 65 | 0.74 | 0.35 | 0.604 | 0.096 | 0.107 | 0.110 |" in lines
    assert lines[-1] == "| mean | | | | | | 0.1547 | 0.124 | 0.1255 |"
    assert all(line.count("|") == lines[-3].count("|") for line in lines[-4:])


def test_rows_measured_before_the_floor_leave_its_cells_blank():
    lines = tissue_holdout.table([row(2, "C2", 0.283, 0.275)],
                                 {"mean_keep": 0.283, "mean_colour": 0.275, "mean_floor": None}).splitlines()
    assert lines[2] == "| C2 | 2 | 65 / 103 | 0.74 | 0.35 |  |  | 0.283 | 0.275 |"
    assert lines[-1] == "| mean | | | | | |  | 0.283 | 0.275 |"
    assert len({line.count("|") for line in lines}) == 1


def test_the_across_table_scores_the_whole_test_section_when_it_was_measured():
    whole = {"novel_fraction": 0.31, "median_novelty": 0.9, "colour_share": 0.12}
    contrast = {"keep": {"contrast_size": 0.296}, "colour": {"contrast_size": 0.073}, "truth": {"contrast_size": 0.323}}
    rows = [row(0, "C3", 0.107, 0.110, floor=0.0961, whole_spots=180, whole_floor=0.1686, whole_keep=0.25,
                whole_colour=0.262, colour_whole_tissue=whole, contrast=contrast),
            row(0, "C4", 0.141, 0.175, floor=None, whole_spots=190, whole_floor=None, whole_keep=0.3,
                whole_colour=0.31, colour_whole_tissue=whole)]
    summary = {"tissue_per_cluster": {"C2": [50617, 81296]}, "mean_keep": 0.124, "mean_colour": 0.1425,
               "mean_floor": None, "mean_whole_keep": 0.275, "mean_whole_colour": 0.286, "mean_whole_floor": None}
    lines = tissue_holdout.across_table(rows, summary).splitlines()
    start = lines.index("The whole test section:")
    assert "| 0 | C3 | 180 | 0.31 | 0.12 | 0.296 / 0.073 / 0.323 | 0.169 | 0.250 | 0.262 |" in lines[start:]
    assert "| 0 | C4 | 190 | 0.31 | 0.12 |  |  | 0.300 | 0.310 |" in lines[start:]  # measured before the contrast
    assert lines[-1] == "| mean | | | | | |  | 0.275 | 0.286 |"
    assert len({line.count("|") for line in lines[start + 2:]}) == 1


def test_rows_written_before_the_whole_section_was_scored_print_no_whole_table():
    rows = [row(0, "C3", 0.107, 0.110)]
    summary = {"tissue_per_cluster": {"C2": [1, 2]}, "mean_keep": 0.107, "mean_colour": 0.11, "mean_floor": None}
    assert "The whole test section:" not in tissue_holdout.across_table(rows, summary)
