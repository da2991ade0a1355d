"""Our TokenViT against timm's VisionTransformer, built with the kwargs the model cards give; skipped without timm.

timm is not a dependency (it imports torchvision at module level, and the torchvision wheels
for this machine break the CPU torch). Where timm is installed, this runs; where torchvision
is not, a stand-in module lets timm import (the ViT code never calls it). One-off run:
pip install --no-deps --target /tmp/timm-pkg timm, then PYTHONPATH=/tmp/timm-pkg:. pytest this
file (docs/encoders.md records the result).

For each timm-published preset: the full-size network's parameter names and shapes equal
timm's (meta device, no memory), and at 2 blocks with the same random weights (copied by
name) the class and patch tokens are equal, at the trained input size and at a larger one
(position tables resampled).
"""
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from dataclasses import replace

import pytest
import torch

from pixel2gene.features.checkpoints import to_network
from pixel2gene.features.nets.token_vit import TokenViT
from pixel2gene.features.presets import PRESETS


def _card_kwargs(timm):
    """timm.create_model(name, **kwargs) for each preset, as its model card / reference loader writes it."""
    swiglu = dict(mlp_layer=timm.layers.SwiGLUPacked, act_layer=torch.nn.SiLU)
    h_optimus = ("vit_giant_patch14_reg4_dinov2",
                 dict(num_classes=0, img_size=224, global_pool="token", init_values=1e-5, dynamic_img_size=True))
    return {
        "uni": ("vit_large_patch16_224",
                dict(img_size=224, patch_size=16, init_values=1e-5, num_classes=0, dynamic_img_size=True)),
        "uni2-h": ("vit_giant_patch14_224",
                   dict(img_size=224, patch_size=14, depth=24, num_heads=24, init_values=1e-5, embed_dim=1536,
                        mlp_ratio=2.66667 * 2, num_classes=0, no_embed_class=True, reg_tokens=8,
                        dynamic_img_size=True, **swiglu)),
        "virchow2": ("vit_huge_patch14_224",
                     dict(img_size=224, init_values=1e-5, num_classes=0, reg_tokens=4, mlp_ratio=5.3375,
                          global_pool="", dynamic_img_size=True, **swiglu)),
        "h-optimus-0": h_optimus,
        "h-optimus-1": h_optimus,
        "prov-gigapath": ("vit_giant_patch14_dinov2",
                          dict(img_size=224, in_chans=3, patch_size=16, embed_dim=1536, depth=40, num_heads=24,
                               mlp_ratio=5.33334, num_classes=0, dynamic_img_size=True)),
        # CONCH's image trunk: open_clip CoCa builds timm's VisionTransformer with these
        "conch": ("vit_base_patch16_224",
                  dict(img_size=448, patch_size=16, num_classes=0, dynamic_img_size=True)),
    }


class _Placeholder(type):
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return f"{cls.__name__}.{name}"  # enum members timm maps (InterpolationMode.BILINEAR, ...)


class _StandIn(types.ModuleType):
    """torchvision as timm's imports see it: every name a placeholder class."""
    __path__ = []

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _Placeholder(name, (torch.nn.Module,), {})
        setattr(self, name, value)
        return value


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name == "torchvision" or name.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return _StandIn(spec.name)

    def exec_module(self, module):
        pass


@pytest.fixture(scope="module")
def timm():
    if importlib.util.find_spec("timm") is None:
        pytest.skip("timm is not installed (not a dependency; see this file's docstring)")
    before = set(sys.modules)
    finder = None
    if importlib.util.find_spec("torchvision") is None:
        finder = _Finder()
        sys.meta_path.insert(0, finder)
    try:
        import timm as module
    except Exception as exc:
        pytest.skip(f"timm does not import here ({type(exc).__name__}: {exc})")
    yield module
    if finder:  # leave no stand-in behind for other tests
        sys.meta_path.remove(finder)
        for name in set(sys.modules) - before:
            if name.split(".")[0] in ("torchvision", "timm"):
                del sys.modules[name]


TIMM_PRESETS = sorted(n for n, p in PRESETS.items() if p.checkpoint in ("timm", "conch"))


@pytest.mark.parametrize("name", TIMM_PRESETS)
def test_full_size_parameters_are_timms(timm, name):
    arch, kwargs = _card_kwargs(timm)[name]
    with torch.device("meta"):
        theirs = timm.create_model(arch, pretrained=False, **kwargs).state_dict()
        ours = TokenViT(PRESETS[name].arch).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}


@pytest.mark.parametrize("name", TIMM_PRESETS)
def test_tokens_equal_timms_with_the_same_weights(timm, name):
    arch, kwargs = _card_kwargs(timm)[name]
    torch.manual_seed(0)
    theirs = timm.create_model(arch, pretrained=False, **dict(kwargs, depth=2)).eval()
    with torch.no_grad():
        for p in theirs.parameters():  # LayerScale, norms and tables away from their initial values
            p.normal_(0, 0.05)
    ours = TokenViT(replace(PRESETS[name].arch, depth=2)).eval()
    ours.load_state_dict(to_network(theirs.state_dict(), "timm"), strict=True)
    size, patch = PRESETS[name].input_size, PRESETS[name].arch.patch
    for side in (size, size + 2 * patch):
        x = torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(side))
        with torch.no_grad():
            ref = theirs.forward_features(x)
            cls, tokens = ours(x)
        assert torch.allclose(cls, ref[:, 0], atol=1e-5), (name, side)
        assert torch.allclose(tokens.flatten(1, 2), ref[:, ours.spec.prefix:], atol=1e-5), (name, side)
