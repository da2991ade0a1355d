"""Encoders: grid shape, no tile seams, pretrained weights load and are deterministic."""
import numpy as np
import pytest
import torch

from pixel2gene.features import create_encoder, list_encoders
from pixel2gene.features.base import ExtractContext
from pixel2gene.features.nets.efficientnet_lite import EfficientNetLiteTrunk, block_specs
from pixel2gene.features.efficientnet import load_lite_weights


def extract(name, image, mask=None, **kw):
    enc = create_encoder(name, **kw)
    grid = (image.shape[0] // 16, image.shape[1] // 16)
    mask = np.ones(grid, bool) if mask is None else mask
    out = np.zeros(grid + (len(enc.channels),), np.float16)
    enc.extract(ExtractContext(image=image, mask=mask), out)
    return out


def test_registry_lists_the_builtin_encoders():
    assert {"effnet-lite0", "texture"} <= set(list_encoders())
    with pytest.raises(KeyError):
        create_encoder("no-such-encoder")


def test_lite0_weights_load_with_the_published_layout():
    state = load_lite_weights("lite0")
    assert len(state) == 296
    specs = block_specs(state)
    assert len(specs) == 16 and [s[4] for s in specs].count(2) == 4
    EfficientNetLiteTrunk.from_state_dict(state)


def test_wrong_checkpoint_fails_clearly():
    state = load_lite_weights("lite0")
    state = {k: v for k, v in state.items() if "_blocks.3._bn1" not in k}
    with pytest.raises(ValueError, match="does not fit"):
        EfficientNetLiteTrunk.from_state_dict(state)


@pytest.mark.parametrize("name", ["effnet-lite0", "texture"])
def test_grid_shape_on_odd_sized_padded_image(name):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (16 * 37, 16 * 29, 3), dtype=np.uint8)
    out = extract(name, image)
    assert out.shape[:2] == (37, 29) and np.isfinite(out.astype(np.float32)).all()


def test_lite0_is_deterministic_and_fixed():
    """The same image gives the same features, and the ones first measured: a change of weights, input scaling,
    taps or sampling moves them (float16 and the thread count move them by an ulp, within the tolerance)."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    a, b = extract("effnet-lite0", image), extract("effnet-lite0", image)
    assert np.array_equal(a, b)
    assert a.shape == (16, 16, 904)
    pinned = [0.934, -4.129, 4.117, -3.873, 2.523, -9.484]  # superpixel (3, 5), first channels (torch 2.13, CPU)
    np.testing.assert_allclose(a[3, 5, :6].astype(np.float32), pinned, atol=0.05)
    assert float(np.abs(a.astype(np.float32)).mean()) == pytest.approx(3.334, abs=0.01)


def tiled(image, passes):
    enc = create_encoder("effnet-lite0", passes=passes)
    grid = (image.shape[0] // 16, image.shape[1] // 16)
    out = np.zeros(grid + (len(enc.channels),), np.float16)
    enc.extract(ExtractContext(image=image, mask=np.ones(grid, bool)), out)
    return out.astype(np.float32)


def test_tiles_leave_no_seams_at_8_and_16_um():
    """Small tiles with a 256 px margin give the features of one tile over the whole image."""
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (16 * 96, 16 * 96, 3), dtype=np.uint8)
    small = tiled(image, ((2, (8, 16), 256, 256),))  # seams every 32 superpixels
    whole = tiled(image, ((2, (8, 16), 768, 256),))
    assert np.allclose(small, whole, atol=0.05, rtol=0.01)


def test_a_constant_image_gives_constant_features_across_tile_edges():
    image = np.full((16 * 96, 16 * 96, 3), (200, 140, 190), np.uint8)
    out = tiled(image, ((2, (8, 16), 256, 256),))
    inner = out[32:64, 32:64]  # far from the image border, across a tile edge at 64
    assert np.allclose(inner, inner[0, 0], atol=0.05)


def test_flips_average_mirror_images():
    """With mirror averaging, a mirror-symmetric image gives mirror-symmetric fine features."""
    rng = np.random.default_rng(0)
    half = rng.integers(0, 256, (256, 128, 3), dtype=np.uint8)
    image = np.concatenate([half, half[:, ::-1]], 1)
    enc = create_encoder("effnet-lite0", passes=((2, (8,), 256, 128),), flips=2)
    out = np.zeros((16, 16, len(enc.channels)), np.float16)
    enc.extract(ExtractContext(image=image, mask=np.ones((16, 16), bool)), out)
    out = out.astype(np.float32)
    assert np.allclose(out, out[:, ::-1], atol=0.02)


def test_only_tissue_tiles_are_computed():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (16 * 300, 16 * 150, 3), dtype=np.uint8)
    mask = np.zeros((300, 150), bool)
    mask[10:20, 10:20] = True
    enc = create_encoder("effnet-lite0", passes=((2, (8,), 256, 32),))
    out = np.zeros((300, 150, len(enc.channels)), np.float16)
    enc.extract(ExtractContext(image=image, mask=mask), out)
    assert np.abs(out[10:20, 10:20]).sum() > 0 and not out[200:].any()


def test_torch_threads_do_not_change_features():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = extract("effnet-lite0", image)
        torch.set_num_threads(2)
        b = extract("effnet-lite0", image)
    finally:
        torch.set_num_threads(before)
    assert np.allclose(a.astype(np.float32), b.astype(np.float32), atol=2e-2)


def test_context_passes_name_the_passes_and_their_channels():
    """--context picks the passes beside the 1 µm/px one; dropping a pass drops its channels' names only."""
    from pixel2gene.features.efficientnet import DEFAULT_CONTEXT, DEFAULT_PASSES, FINE_PASS, passes_for
    assert passes_for(DEFAULT_CONTEXT) == DEFAULT_PASSES and passes_for("none") == (FINE_PASS,)
    assert [p[0] for p in passes_for("4+8")] == [2, 8, 16]
    from pixel2gene.features.efficientnet import EfficientNetLiteEncoder
    width = {c: len(EfficientNetLiteEncoder("lite0", context=c).channels) for c in ("none", "4", "8", "4+8")}
    # every context pass taps its own blocks: a pass the default lacks must not be dropped
    assert width["none"] < width["4"] == width["8"] < width["4+8"]
    assert [p[0] for p in passes_for("8")] == [2, 16]
    with pytest.raises(ValueError, match="choose one of"):
        passes_for("2")
    full, fine = create_encoder("effnet-lite0", context="4+8"), create_encoder("effnet-lite0", context="none")
    only4 = create_encoder("effnet-lite0", context="4")
    assert list(fine.channels) == list(full.channels)[:len(fine.channels)] < list(full.channels)
    assert set(only4.channels) < set(full.channels) and set(fine.channels) < set(only4.channels)
