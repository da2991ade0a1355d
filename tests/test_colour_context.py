"""Colour-context channels: the colour floor's statistics per superpixel (features/colour.py)."""
import numpy as np
import pytest

from pixel2gene.features.colour import channel_names, colour_context

SP = 16


def context(image, mask=None):
    gh, gw = image.shape[0] // SP, image.shape[1] // SP
    mask = np.ones((gh, gw), bool) if mask is None else mask
    out = np.zeros((gh, gw, len(channel_names())), np.float16)
    colour_context(image, mask, out)
    return dict(zip(channel_names(), np.moveaxis(out.astype(np.float32), -1, 0)))


def test_uniform_stain_gives_its_colour_and_density_with_no_spread():
    rgb = np.array([200, 100, 50], np.uint8)
    ch = context(np.broadcast_to(rgb, (64 * SP, 64 * SP, 3)).copy())
    centre = (32, 32)  # far from the slide's edge at both radii (6 and 12 superpixels)
    for r in (50, 100):
        for i, c in enumerate("rgb"):
            assert ch[f"colour_rgb_mean_{c}_r{r}um"][centre] == pytest.approx(rgb[i] / 255, abs=2e-3)
            assert ch[f"colour_od_mean_{c}_r{r}um"][centre] == pytest.approx(-np.log(rgb[i] / 255), abs=3e-3)
            assert abs(ch[f"colour_rgb_std_{c}_r{r}um"][centre]) < 2e-3
            assert abs(ch[f"colour_od_std_{c}_r{r}um"][centre]) < 5e-3


def test_glass_beyond_the_slide_and_a_stain_border_show_in_the_context():
    image = np.full((64 * SP, 64 * SP, 3), 255, np.uint8)
    image[:, :32 * SP] = (120, 60, 140)  # left half stained, right half glass
    ch = context(image)
    mean_r, std_r = ch["colour_rgb_mean_r_r100um"], ch["colour_rgb_std_r_r100um"]
    assert mean_r[32, 18] == pytest.approx(120 / 255, abs=2e-3)  # inside the stain
    assert 120 / 255 + 0.05 < mean_r[32, 31] < 1 - 0.05  # straddling the border: a mix
    assert std_r[32, 31] > 0.2 and std_r[32, 18] < 2e-3
    assert ch["colour_rgb_mean_r_r50um"][0, 10] > mean_r[32, 18] + 0.05  # the slide's edge counts as glass


def test_only_tissue_superpixels_are_written():
    image = np.random.default_rng(0).integers(0, 255, (20 * SP, 24 * SP, 3), dtype=np.uint8)
    mask = np.zeros((20, 24), bool)
    mask[5:9, 3:20] = True
    gh, gw = mask.shape
    out = np.zeros((gh, gw, len(channel_names())), np.float16)
    colour_context(image, mask, out)
    assert not out[~mask].any() and np.isfinite(out[mask]).all() and (out[mask] != 0).any()


def test_channel_names_are_unique_and_marked_as_colour():
    names = channel_names()
    assert len(names) == len(set(names)) == 24 and all(n.startswith("colour_") for n in names)
