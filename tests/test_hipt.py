"""HIPT: official checkpoint layout loads, wrong ones fail clearly, grid shape and shift averaging."""
import argparse

import numpy as np
import pytest
import torch

from pixel2gene.errors import InputError
from pixel2gene.features import create_encoder
from pixel2gene.features.base import ExtractContext
from pixel2gene.features.nets.vit import ViT4K, ViT256


def official_layout(net, path, with_args=True):
    """A DINO training checkpoint as the HIPT authors released them: teacher/student, backbone. prefix, head."""
    backbone = {f"backbone.{k}": v for k, v in net.state_dict().items()}
    head = {"head.mlp.0.weight": torch.zeros(8, net.dim), "head.last_layer.weight_g": torch.ones(8, 1)}
    ckpt = {"teacher": {**backbone, **head}, "student": {f"module.{k}": v + 1 for k, v in backbone.items()},
            "epoch": 100}
    if with_args:
        ckpt["args"] = argparse.Namespace(arch="vit_small", patch_size=16)
    torch.save(ckpt, path)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    d = tmp_path_factory.mktemp("hipt")
    torch.manual_seed(7)
    v256, v4k = ViT256(), ViT4K()
    official_layout(v256, d / "vit256_small_dino.pth")
    official_layout(v4k, d / "vit4k_xs_dino.pth", with_args=False)
    return d, v256, v4k


def test_official_checkpoints_load_teacher_weights(checkpoints):
    d, v256, v4k = checkpoints
    enc = create_encoder("hipt", weights=[d / "vit4k_xs_dino.pth", d / "vit256_small_dino.pth"])  # any order
    for ours, theirs in ((enc.vit256, v256), (enc.vit4k, v4k)):
        for k, v in theirs.state_dict().items():
            assert torch.equal(ours.state_dict()[k], v), k  # the teacher, not the student (+1)


def test_missing_or_wrong_checkpoints_fail_clearly(checkpoints, tmp_path):
    d, v256, _ = checkpoints
    with pytest.raises(InputError, match="needs its two DINO checkpoints"):
        create_encoder("hipt")
    with pytest.raises(InputError, match="no vit4k_xs_dino.pth"):
        create_encoder("hipt", weights=[d / "vit256_small_dino.pth"])
    with pytest.raises(InputError, match="checkpoint file is missing"):
        create_encoder("hipt", weights=[tmp_path / "nope.pth", d / "vit4k_xs_dino.pth"])
    broken = {k: v for k, v in v256.state_dict().items() if not k.startswith("blocks.11.")}
    torch.save({"teacher": broken}, tmp_path / "cut.pth")
    with pytest.raises(InputError, match="lacks 'blocks.11"):
        create_encoder("hipt", weights=[tmp_path / "cut.pth", d / "vit4k_xs_dino.pth"])
    wide = dict(v256.state_dict(), **{"blocks.0.mlp.fc1.weight": torch.zeros(10, 384)})
    torch.save(wide, tmp_path / "wide.pth")
    with pytest.raises(InputError, match="has shape"):
        create_encoder("hipt", weights=[tmp_path / "wide.pth", d / "vit4k_xs_dino.pth"])
    torch.save({"teacher": {"conv.weight": torch.zeros(3)}}, tmp_path / "other.pth")
    with pytest.raises(InputError, match="not a HIPT ViT checkpoint"):
        create_encoder("hipt", weights=[tmp_path / "other.pth", d / "vit4k_xs_dino.pth"])


def test_checkpoints_that_would_run_code_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))
    torch.save({"teacher": {"x": Evil()}}, tmp_path / "evil.pth")
    with pytest.raises(InputError, match="does not load as plain tensors"):
        create_encoder("hipt", weights=[tmp_path / "evil.pth"])


def _extract(enc, image, mask):
    out = np.zeros(mask.shape + (len(enc.channels),), np.float32)
    enc.extract(ExtractContext(image=image, mask=mask), out)
    return out


def test_grid_shape_and_tokens_on_an_odd_sized_image():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (400, 560, 3), np.uint8)  # 25 x 35 superpixels, less than one patch row
    mask = np.zeros((25, 35), bool)
    mask[3:20, 5:30] = True
    enc = create_encoder("hipt", random_init=True)
    out = _extract(enc, image, mask)
    assert out.shape == (25, 35, 576) and np.isfinite(out).all()
    assert np.abs(out[mask]).sum(1).min() > 0  # every tissue superpixel has features
    sub, ctx4k = out[..., :384], out[..., 384:]
    assert not np.allclose(sub[4, 6], sub[4, 7])  # one ViT-256 token per superpixel
    assert np.allclose(ctx4k[0, 0], ctx4k[15, 15]) and not np.allclose(ctx4k[0, 0], ctx4k[0, 16])  # per 256 px
    again = _extract(create_encoder("hipt", random_init=True), image, mask)
    assert np.array_equal(out, again)  # random weights are seeded: repeatable


def test_shift_averaging_averages_the_shifted_runs(monkeypatch):
    import pixel2gene.features.hipt as hipt
    assert hipt.SHIFTS == (0, 64, 128, 192)  # 16 runs by default, as the reference; two shifts keep the test short
    monkeypatch.setattr(hipt, "SHIFTS", (0, 128))
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (256, 256, 3), np.uint8)
    mask = np.ones((16, 16), bool)
    enc = create_encoder("hipt", random_init=True, shift_average=True)
    calls = []
    real = hipt.HIPTEncoder._run
    monkeypatch.setattr(hipt.HIPTEncoder, "_run", lambda self, *a, **k: calls.append(a[2:4]) or real(self, *a, **k))
    out = _extract(enc, image, mask)
    assert sorted(calls) == [(0, 0), (0, 128), (128, 0), (128, 128)]
    plain = _extract(create_encoder("hipt", random_init=True), image, mask)
    assert out.shape == plain.shape and not np.allclose(out, plain)
