"""Issue #30: specks of tissue far from the section are dropped from the detected mask; pieces of the section stay."""
import json

import numpy as np
import pytest

from conftest import SHARED, run_tool
from pixel2gene.image.tissue_mask import SPECK_DISTANCE_UM, drop_far_specks

UM = 8.0  # µm per superpixel at the default 0.5 µm/px


def section_with(*pieces):
    """A 200 x 300 grid with a 100 x 100 section at (50, 50) and more pieces: (row, col, side)."""
    m = np.zeros((200, 300), bool)
    m[50:150, 50:150] = True
    for r, c, side in pieces:
        m[r:r + side, c:c + side] = True
    return m


def test_a_small_piece_far_from_the_section_is_dropped():
    far = 150 + int(SPECK_DISTANCE_UM / UM) + 10  # columns: past 0.5 mm from the section's edge
    out, n = drop_far_specks(section_with((90, far, 5)), UM)
    assert n == 1 and out.sum() == 100 * 100 and not out[90:95, far:far + 5].any()


@pytest.mark.parametrize("piece", [
    (90, 160, 5),      # small but close: a fragment beside the section (80 µm away)
    (90, 200, 40),     # far but large (16 % of the section): a second core
    (60, 60, 0),       # nothing else
])
def test_pieces_of_the_section_stay(piece):
    m = section_with(piece)
    out, n = drop_far_specks(m, UM)
    assert n == 0 and np.array_equal(out, m)


def test_the_distance_is_in_micrometres():
    m = section_with((90, 150 + 40, 3))  # 40 superpixels away: 320 µm at 8 µm, 1.3 mm at 32 µm
    assert drop_far_specks(m, 8.0)[1] == 0
    assert drop_far_specks(m, 32.0)[1] == 1


def test_the_real_heart_fixture_loses_its_edge_speck_and_keeps_its_tissue(tmp_path):
    """The 10x human-heart Visium fixture, lowres image: a speck at the left edge, about 1.1 mm off the section."""
    outs = SHARED / "data" / "10x" / "visium" / "human-heart-sr1.0"
    if not outs.is_dir():
        pytest.skip(f"{outs} is not present")
    run_tool("p2g-import", "visium", outs, "--image", "lowres", "--out", tmp_path / "heart")
    run_tool("p2g-rescale", "--prefix", f"{tmp_path}/heart/", "--out", tmp_path / "rescale", "--measured")
    proc = run_tool("p2g-mask", "--rescaled", tmp_path / "rescale", "--out", tmp_path / "mask")
    assert "dropped 1 speck(s)" in proc.stderr
    record = json.loads((tmp_path / "mask" / "mask.json").read_text())
    mask = np.load(tmp_path / "mask" / "mask.npy")
    assert record["specks_dropped"] == 1 and record["source"] == "detected"
    assert not mask[600:720, :60].any()  # the speck's place (it was at column 10, row 663)
    assert mask.sum() > 390_000          # the section itself stays whole
    cols = np.flatnonzero(mask.any(axis=0))
    assert cols.min() > 100              # nothing left at the image's edge


def test_a_user_mask_is_kept_as_given(tmp_path, synthetic):
    """--mask-file is the override: the user's specks are the user's business."""
    run_tool("p2g-rescale", "--prefix", synthetic["test"], "--out", tmp_path / "rescale")
    grid = json.loads((tmp_path / "rescale" / "sample.json").read_text())["grid_shape"]
    m = np.zeros(grid, bool)
    m[10:60, 10:60] = True
    m[-3:, -3:] = True  # a 9-superpixel speck about 0.5 mm from the rest, which the detected mask would drop
    assert drop_far_specks(m, UM)[1] == 1
    np.save(tmp_path / "user.npy", m)
    run_tool("p2g-mask", "--rescaled", tmp_path / "rescale", "--out", tmp_path / "mask", "--mask-file",
             tmp_path / "user.npy")
    assert np.array_equal(np.load(tmp_path / "mask" / "mask.npy"), m)
    assert json.loads((tmp_path / "mask" / "mask.json").read_text())["specks_dropped"] == 0
