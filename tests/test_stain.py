"""Stain estimation and normalisation; the seeded colour shifts of the robustness benchmark."""
import sys
from pathlib import Path

import numpy as np
import pytest

from pixel2gene.image import stain
from pixel2gene.image.perturb import Shift, random_shift

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from shifts import BENCH_SHIFTS, shift_image_file, slug  # noqa: E402

H = np.array([0.65, 0.70, 0.29])
E = np.array([0.07, 0.99, 0.11])


def unit(v):
    return v / np.linalg.norm(v)


def synthetic_slide(stains, white, max_amount=(1.2, 0.9), shape=(128, 160), seed=0):
    """A tissue image mixed from known dyes: every pixel OD = amounts @ stains."""
    rng = np.random.default_rng(seed)
    conc = np.stack([rng.gamma(2.0, max_amount[0] / 4, shape), rng.gamma(2.0, max_amount[1] / 4, shape)], -1)
    od = conc.reshape(-1, 2) @ stains
    return stain.from_od(od, white).reshape(shape + (3,)), conc


@pytest.mark.parametrize("pair", [(H, E), ([0.55, 0.78, 0.30], [0.15, 0.92, 0.36])])
def test_macenko_recovers_a_known_stain_matrix(pair):
    stains = np.stack([unit(np.array(v, float)) for v in pair])
    white = np.array([236.0, 240.0, 246.0])
    rgb, _ = synthetic_slide(stains, white)
    est = stain.stain_vectors(stain.optical_density(rgb.reshape(-1, 3), white))
    cos = (est * stains).sum(1)
    assert (cos > 0.99).all(), (est, stains)  # haematoxylin first, eosin second


def test_normalising_a_restained_slide_brings_back_the_reference_colours():
    """The same tissue stained with other dyes and another white maps back onto the reference's pixels."""
    ref = stain.StainModel.reference()
    tissue = np.ones((8, 10), bool)  # the superpixel grid of a 128 x 160 px image
    a, conc = synthetic_slide(ref.stains, ref.white)
    other_stains = np.stack([unit(np.array([0.55, 0.78, 0.30])), unit(np.array([0.15, 0.92, 0.36]))])
    white = np.array([225.0, 232.0, 244.0])
    b = stain.from_od((conc.reshape(-1, 2) * [1.4, 0.7]) @ other_stains, white).reshape(a.shape)
    model_a = stain.estimate(a, tissue, ref.white)
    model_b = stain.estimate(b, tissue, white)
    na = stain.normalise_pixels(a, model_a, ref)
    nb = stain.normalise_pixels(b, model_b, ref)
    before = np.abs(a.astype(float) - b).mean()
    after = np.abs(na.astype(float) - nb).mean()
    assert after < 0.2 * before and after < 6, (before, after)


def test_white_point_comes_from_glass_inside_the_image_not_its_padding():
    rgb = np.full((40, 40, 3), 1.0, np.float32)   # padding: pure white
    rgb[:30, :30] = np.array([0.90, 0.93, 0.97])  # glass
    tissue = np.zeros((40, 40), bool)
    tissue[5:20, 5:20] = True
    rgb[tissue] = 0.5
    white = stain.estimate_white(rgb, tissue, (30, 30))
    assert np.allclose(white, np.array([0.90, 0.93, 0.97]) * 255, atol=1)
    assert np.allclose(stain.estimate_white(rgb, np.ones((40, 40), bool), (30, 30)), 255)  # no glass: 255


def test_random_shifts_are_seeded():
    assert random_shift(np.random.default_rng(1)) == random_shift(np.random.default_rng(1))
    assert random_shift(np.random.default_rng(1)) != random_shift(np.random.default_rng(2))


def test_benchmark_shifts_change_the_image_and_are_repeatable():
    rgb, _ = synthetic_slide(np.stack([unit(H), unit(E)]), np.full(3, 245.0), shape=(64, 64))
    for shift in BENCH_SHIFTS:
        out = shift.apply(rgb)
        assert out.shape == rgb.shape and out.dtype == np.uint8
        assert np.array_equal(out, shift.apply(rgb))
        assert np.abs(out.astype(int) - rgb).mean() > 1, shift.name
    assert np.array_equal(Shift("none").apply(rgb), rgb)


@pytest.mark.parametrize("shift", [s for s in BENCH_SHIFTS if s.dye_scale != (1.0, 1.0)], ids=lambda s: s.name)
def test_dye_shifts_scale_the_dye_they_name_and_leave_the_other(shift):
    """Eosin x1.3 gives 1.3 times the eosin and the same haematoxylin, and so on for each dye shift."""
    pair = np.stack([unit(H), unit(E)])
    rgb, _ = synthetic_slide(pair, np.full(3, 255.0), max_amount=(0.8, 0.8), shape=(64, 64))
    out = shift.apply(rgb)
    before = stain.amounts(stain.optical_density(rgb.reshape(-1, 3), 255.0), pair)
    after = stain.amounts(stain.optical_density(out.reshape(-1, 3), 255.0), pair)
    for dye in (0, 1):
        dense = before[:, dye] > 0.3  # enough dye that 8-bit rounding does not swamp the ratio
        assert np.median(after[dense, dye] / before[dense, dye]) == pytest.approx(shift.dye_scale[dye], abs=0.05)


def test_shifted_image_files_are_lossless_except_the_jpeg_shift(tmp_path):
    import cv2
    rgb, _ = synthetic_slide(np.stack([unit(H), unit(E)]), np.full(3, 245.0), shape=(96, 80))
    src = tmp_path / "he-raw.png"
    cv2.imwrite(str(src), rgb[..., ::-1])
    eosin = next(s for s in BENCH_SHIFTS if s.name == "eosin x1.3")
    shift_image_file(str(src), str(tmp_path / "e.png"), eosin, rows=32)  # strips give the same as the whole
    assert np.array_equal(cv2.imread(str(tmp_path / "e.png"))[..., ::-1], eosin.apply(rgb))
    jpeg = next(s for s in BENCH_SHIFTS if s.jpeg_quality)
    shift_image_file(str(src), str(tmp_path / "j.jpg"), jpeg)
    again = tmp_path / "j2.jpg"
    shift_image_file(str(src), str(again), jpeg)
    assert (tmp_path / "j.jpg").read_bytes() == again.read_bytes()
    lossy = cv2.imread(str(again))[..., ::-1].astype(int)
    assert np.abs(lossy - rgb).mean() > 0.5  # re-compressed: pixels changed (this noise image the most) ...
    assert np.abs(lossy.mean((0, 1)) - rgb.mean((0, 1))).max() < 5  # ... colours did not
    with pytest.raises(ValueError, match="jpg"):
        shift_image_file(str(src), str(tmp_path / "j.png"), jpeg)
    assert slug("brightness +20, contrast x0.85") == "brightness-20-contrast-x0.85"


def test_feature_step_normalises_stains_before_the_encoder(synthetic, tmp_path):
    """The same slide after a lab's stain shift: with --stain macenko its colour channels come back close to
    the original's; the record says what was done; the scratch copy of the image is not left behind."""
    import json
    import shutil

    from conftest import run_tool
    shifted = tmp_path / "shifted"
    shutil.copytree(synthetic["test"], shifted)
    shift_image_file(str(shifted / "he-raw.jpg"), str(shifted / "he-raw.jpg"),
                     Shift("lab", dye_scale=(1.35, 0.8), gain=(0.92, 0.97, 1.0)))
    colours = {}
    for name, prefix in (("orig", Path(synthetic["test"])), ("shifted", shifted)):
        w = tmp_path / name
        run_tool("p2g-rescale", "--prefix", f"{prefix}/", "--out", w / "rescale")
        run_tool("p2g-mask", "--rescaled", w / "rescale", "--out", w / "mask")
        for method in ("none", "macenko"):
            out = w / f"features-{method}"
            run_tool("p2g-features", "--rescaled", w / "rescale", "--mask", w / "mask", "--out", out,
                     "--encoder", "texture", "--stain", method, "--threads", 1)
            info = json.loads((out / "features.json").read_text())
            assert info["stain"]["method"] == method
            assert sorted(p.name for p in out.iterdir() if p.suffix == ".npy") == \
                ["channel-mean.npy", "channel-std.npy", "features.npy"]
            colours[name, method] = np.load(out / "features.npy")[:, :3].astype(float).mean(0)
    assert info["stain"]["source"]["stains"] and info["stain"]["target"]["white"] == [255.0] * 3
    gap_raw = np.abs(colours["orig", "none"] - colours["shifted", "none"]).sum()
    gap_norm = np.abs(colours["orig", "macenko"] - colours["shifted", "macenko"]).sum()
    assert gap_norm < 0.5 * gap_raw, (gap_raw, gap_norm)


def test_an_unknown_stain_method_is_a_one_line_error(synthetic, tmp_path):
    from conftest import run_tool
    proc = run_tool("p2g-features", "--rescaled", tmp_path, "--mask", tmp_path, "--out", tmp_path / "f",
                    "--stain", "vahadane", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "vahadane" in proc.stderr
