"""Foundation-model presets: real-size layouts on the meta device, checkpoint errors, token grids, end to end.

No real weights are used: each preset's published checkpoint layout is written here from its
architecture description (so a renaming error in features/checkpoints.py shows), and the runs
use shrunken copies of a preset (same patch, registers, MLP and token rule; 2 blocks, width 48).
"""
import re
import sys
import types
from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import REPO, run_tool
from pixel2gene.errors import InputError
from pixel2gene.features import create_encoder, registry
from pixel2gene.features.base import ExtractContext
from pixel2gene.features.checkpoints import check_fits, to_network
from pixel2gene.features.foundation import FoundationEncoder, FoundationOptions, _factory
from pixel2gene.features.nets.token_vit import TokenViT, parameter_count
from pixel2gene.features.presets import PRESETS
from pixel2gene.features.token_grid import area_matrix, linear_matrix, resample


def shrunk(name, **kw):
    p = PRESETS[name]
    return replace(p, arch=replace(p.arch, **dict(dict(dim=48, depth=2, heads=4), **kw)))


# ---- the published layouts, from the architecture description alone --------------------------------------------

def _block_shapes(a):
    d, h = a.dim, a.mlp_hidden
    fc2_in = h // 2 if a.mlp == "swiglu" else h
    shapes = {"norm1.weight": (d,), "norm1.bias": (d,), "attn.qkv.weight": (3 * d, d), "attn.qkv.bias": (3 * d,),
              "attn.proj.weight": (d, d), "attn.proj.bias": (d,), "norm2.weight": (d,), "norm2.bias": (d,),
              "mlp.fc1.weight": (h, d), "mlp.fc1.bias": (h,), "mlp.fc2.weight": (d, fc2_in), "mlp.fc2.bias": (d,)}
    if a.layerscale is not None:
        shapes.update({"ls1.gamma": (d,), "ls2.gamma": (d,)})
    return shapes


def timm_layout(a):
    """timm VisionTransformer's state dict for this architecture (the UNI/Virchow/H-optimus/GigaPath files)."""
    d = a.dim
    prefix = int(a.class_token) + a.registers
    out = {"patch_embed.proj.weight": (d, 3, a.patch, a.patch), "patch_embed.proj.bias": (d,),
           "pos_embed": (1, a.grid ** 2 + (prefix if a.pos_prefix else 0), d), "norm.weight": (d,), "norm.bias": (d,)}
    if a.class_token:
        out["cls_token"] = (1, 1, d)
    if a.registers:
        out["reg_token"] = (1, a.registers, d)
    for i in range(a.depth):
        out.update({f"blocks.{i}.{k}": s for k, s in _block_shapes(a).items()})
    return out


def hf_dinov2_layout(a):
    """transformers Dinov2Model's names (Phikon-v2's model.safetensors): separate q/k/v, lambda1, layernorm."""
    d, h = a.dim, a.mlp_hidden
    out = {"embeddings.cls_token": (1, 1, d), "embeddings.mask_token": (1, d),
           "embeddings.position_embeddings": (1, 1 + a.grid ** 2, d),
           "embeddings.patch_embeddings.projection.weight": (d, 3, a.patch, a.patch),
           "embeddings.patch_embeddings.projection.bias": (d,), "layernorm.weight": (d,), "layernorm.bias": (d,)}
    for i in range(a.depth):
        b = f"encoder.layer.{i}."
        for part in ("query", "key", "value"):
            out.update({f"{b}attention.attention.{part}.weight": (d, d), f"{b}attention.attention.{part}.bias": (d,)})
        out.update({f"{b}attention.output.dense.weight": (d, d), f"{b}attention.output.dense.bias": (d,),
                    f"{b}layer_scale1.lambda1": (d,), f"{b}layer_scale2.lambda1": (d,),
                    f"{b}norm1.weight": (d,), f"{b}norm1.bias": (d,), f"{b}norm2.weight": (d,), f"{b}norm2.bias": (d,),
                    f"{b}mlp.fc1.weight": (h, d), f"{b}mlp.fc1.bias": (h,), f"{b}mlp.fc2.weight": (d, h),
                    f"{b}mlp.fc2.bias": (d,)})
    return out


def conch_layout(a):
    """CONCH's pytorch_model.bin: the whole CoCa model; the image trunk under visual.trunk., the rest beside it."""
    out = {f"visual.trunk.{k}": s for k, s in timm_layout(a).items()}
    out.update({"visual.attn_pool_contrast.query": (1, 512), "visual.ln_contrast.weight": (512,),
                "visual.proj_contrast": (512, 512), "text.token_embedding.weight": (32007, 768), "logit_scale": ()})
    return out


LAYOUT_WRITERS = {"timm": timm_layout, "hf-dinov2": hf_dinov2_layout, "conch": conch_layout}


def published(preset, device="meta", seed=None):
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    make = (lambda s: torch.empty(s, device="meta")) if device == "meta" else (lambda s: torch.randn(s, generator=gen))
    return {k: make(s) for k, s in LAYOUT_WRITERS[preset.checkpoint](preset.arch).items()}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_at_real_size_and_its_published_layout_maps_onto_it(name):
    preset = PRESETS[name]
    with torch.device("meta"):
        net = TokenViT(preset.arch)
    expected = net.state_dict()
    mapped = to_network(published(preset), preset.checkpoint)
    assert set(mapped) == set(expected)
    check_fits(expected, mapped, f"{name}.bin", name)


def test_hf_qkv_is_stacked_query_key_value():
    preset = shrunk("phikon-v2")
    state = published(preset, device="cpu", seed=0)
    mapped = to_network(state, "hf-dinov2")
    q, k, v = (state[f"encoder.layer.1.attention.attention.{p}.weight"] for p in ("query", "key", "value"))
    assert torch.equal(mapped["blocks.1.attn.qkv.weight"], torch.cat([q, k, v]))
    assert torch.equal(mapped["blocks.1.ls2.gamma"], state["encoder.layer.1.layer_scale2.lambda1"])


def test_an_unpacked_swiglu_is_packed_gate_first():
    a = shrunk("uni2-h").arch
    torch.manual_seed(0)
    net = TokenViT(replace(a, depth=1)).eval()
    state = dict(net.state_dict())
    fc1 = state.pop("blocks.0.mlp.fc1.weight"), state.pop("blocks.0.mlp.fc1.bias")
    state.update({"blocks.0.mlp.fc1_g.weight": fc1[0].chunk(2)[0], "blocks.0.mlp.fc1_x.weight": fc1[0].chunk(2)[1],
                  "blocks.0.mlp.fc1_g.bias": fc1[1].chunk(2)[0], "blocks.0.mlp.fc1_x.bias": fc1[1].chunk(2)[1]})
    assert torch.equal(to_network(state, "timm")["blocks.0.mlp.fc1.weight"], fc1[0])


# ---- the documented table is the registry's ---------------------------------------------------------------------

def documented_presets():
    """Rows of the preset table in docs/encoders.md, by preset name."""
    text = (REPO / "docs" / "encoders.md").read_text()
    section = text.split("## Foundation presets", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 8 and cells[0].startswith("`") and cells[0].strip("`") in PRESETS:
            rows[cells[0].strip("`")] = cells
    return rows


def test_documented_facts_match_the_registry():
    rows = documented_presets()
    assert set(rows) == set(PRESETS)
    numbers = lambda cell: [float(x) for x in re.findall(r"\d+(?:\.\d+)?", cell)]
    for name, (_, params, width, patch, registers, size, um, mean, std, *_) in rows.items():
        p = PRESETS[name]
        assert int(width) == p.arch.dim, name
        assert int(patch) == p.arch.patch and int(registers) == p.arch.registers, name
        assert int(size) == p.input_size and float(um) == p.um_per_px, name
        assert numbers(mean) == list(p.norm[0]) and numbers(std) == list(p.norm[1]), name
        assert numbers(params)[0] == round(parameter_count(p.arch) / 1e6), name


# ---- checkpoints: only what the user gives, and one line when it does not fit -----------------------------------

@pytest.fixture
def tiny(monkeypatch):
    """A shrunken uni2-h (patch 14, 8 registers, SwiGLU, no class position) registered for this test only."""
    preset = shrunk("uni2-h")
    monkeypatch.setitem(registry._REGISTRY, "tiny-uni2", registry.Entry(_factory("tiny-uni2", preset),
                                                                          FoundationOptions))
    return preset


def one_line(exc_info, *parts):
    text = str(exc_info.value)
    assert "\n" not in text, text
    for part in parts:
        assert part in text, text


def test_no_weights_is_an_error_and_random_weights_must_be_asked_for():
    with pytest.raises(InputError) as exc:
        create_encoder("uni")
    one_line(exc, "--weights", "MahmoodLab/UNI", "pytorch_model.bin")
    with pytest.raises(InputError) as exc:
        create_encoder("uni", weights=["a.bin", "b.bin"])
    one_line(exc, "takes one checkpoint")


def test_a_checkpoint_loads_by_name_and_gives_its_tokens(tiny, tmp_path):
    state = published(tiny, device="cpu", seed=1)
    torch.save(state, tmp_path / "pytorch_model.bin")
    enc = create_encoder("tiny-uni2", weights=[tmp_path / "pytorch_model.bin"], context="none")
    for k, v in enc.net.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert enc.describe()["weights"] == [str((tmp_path / "pytorch_model.bin").resolve())]
    assert not enc.describe()["random_init"]


def test_a_mismatched_checkpoint_is_one_line_naming_the_file_and_the_tensor(tiny, tmp_path):
    good = published(tiny, device="cpu", seed=1)
    cases = {
        "cut.bin": ({k: v for k, v in good.items() if not k.startswith("blocks.1.")}, "lacks 'blocks.1."),
        "wide.bin": (dict(good, **{"blocks.0.mlp.fc1.weight": torch.zeros(10, 48)}),
                     "'blocks.0.mlp.fc1.weight' has shape (10, 48)"),
        "deep.bin": (dict(good, **{"blocks.2.norm1.weight": torch.zeros(48)}), "has 'blocks.2.norm1.weight'"),
        "regs.bin": (dict(good, reg_token=torch.zeros(1, 4, 48)), "'reg_token' has shape (1, 4, 48)"),
    }
    for file, (state, says) in cases.items():
        torch.save(state, tmp_path / file)
        with pytest.raises(InputError) as exc:
            create_encoder("tiny-uni2", weights=[tmp_path / file])
        one_line(exc, str(tmp_path / file), says)
    with pytest.raises(InputError) as exc:  # another model's file, at real size: caught before anything is built
        torch.save({"patch_embed.proj.weight": torch.zeros(8, 3, 16, 16)}, tmp_path / "other.bin")
        create_encoder("uni", weights=[tmp_path / "other.bin"])
    one_line(exc, "other.bin", "lacks")


def test_checkpoints_that_would_run_code_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))
    torch.save({"x": Evil()}, tmp_path / "evil.bin")
    with pytest.raises(InputError) as exc:
        create_encoder("uni", weights=[tmp_path / "evil.bin"])
    one_line(exc, "does not load as plain tensors")


def test_safetensors_and_hub_weights_say_what_to_install(tmp_path, monkeypatch):
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 16)
    try:
        import safetensors  # noqa: F401
    except ImportError:
        with pytest.raises(InputError) as exc:
            create_encoder("phikon-v2", weights=[tmp_path / "model.safetensors"])
        one_line(exc, "pip install safetensors")
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as when it is not installed
    with pytest.raises(InputError) as exc:
        create_encoder("uni", weights=["hf-hub:MahmoodLab/UNI"])
    one_line(exc, "hf-hub:MahmoodLab/UNI", "pip install huggingface_hub")

    def offline(repo_id, filename):
        raise OSError("We couldn't connect to 'https://huggingface.co'")
    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(hf_hub_download=offline))
    with pytest.raises(InputError) as exc:
        create_encoder("uni", weights=["hf-hub:MahmoodLab/UNI"])
    one_line(exc, "could not fetch pytorch_model.bin (OSError)", "huggingface.co/MahmoodLab/UNI")


# ---- token grids onto superpixels -------------------------------------------------------------------------------

def test_14px_tokens_are_area_resampled_onto_16px_superpixels():
    """A 224 px tile: 16 tokens of 14 px, 14 superpixels of 16 px. The reference spreads each token over its
    pixels and averages each superpixel's 16 x 16 pixels; a ramp gives the values worked by hand."""
    w = area_matrix(14, 16, 16, 14)
    ramp = resample(torch.arange(16.)[None, :, None, None].expand(1, 16, 16, 1), w, w)[0, :, 0, 0]
    assert ramp[:3].tolist() == pytest.approx([2 / 16, (12 + 4 * 2) / 16, (10 * 2 + 6 * 3) / 16])
    tokens = torch.randn(2, 16, 16, 3, generator=torch.Generator().manual_seed(0))
    pixels = tokens.repeat_interleave(14, 1).repeat_interleave(14, 2)
    reference = pixels.reshape(2, 14, 16, 14, 16, 3).mean((2, 4))
    assert torch.allclose(resample(tokens, w, w), reference, atol=1e-6)
    eye = area_matrix(14, 16, 14, 16)  # /16 at 0.5 µm/px: one token per superpixel, exactly
    assert torch.equal(eye, torch.eye(14)) and torch.equal(resample(tokens[:, :14, :14], eye, eye), tokens[:, :14, :14])


@pytest.mark.parametrize("name, context", [("uni2-h", "4"), ("uni", "8"), ("conch", "4")])
def test_context_tokens_are_read_at_the_superpixel_centres(name, context):
    """Tokens holding their own centre (in image pixels) read back each superpixel's centre exactly."""
    enc = FoundationEncoder(name, shrunk(name), random_init=True, context=context)
    p = enc.passes()[1]
    patch, n = enc.preset.arch.patch, enc.preset.input_size // enc.preset.arch.patch
    i0 = 40  # the tile's first core superpixel row
    origin = i0 * 16 - p.margin * p.factor  # image pixel of the tile's first network pixel
    centre = origin + p.factor * (torch.arange(n) * patch + (patch - 1) / 2) + (p.factor - 1) / 2
    tokens = centre[None, :, None, None].expand(1, n, n, 1).float()
    cells = enc._context_map(p)(None, tokens)[0, :, 0, 0]
    core = enc._core(p)
    assert torch.allclose(cells, (i0 + torch.arange(core)) * 16 + 7.5, atol=1e-3)


def test_interpolation_clamps_outside_the_tokens():
    w = linear_matrix(torch.tensor([-1.0, 0.0, 2.5, 9.0]), 4)
    assert w.tolist() == [[1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0.5, 0.5], [0, 0, 0, 1]]


# ---- runs -------------------------------------------------------------------------------------------------------

def extract(enc, image, mask):
    out = np.zeros(mask.shape + (len(enc.channels),), np.float16)
    enc.extract(ExtractContext(image=image, mask=mask), out)
    return out.astype(np.float32)


def test_features_per_superpixel_with_context_on_an_odd_sized_image():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (400, 560, 3), np.uint8)
    mask = np.zeros((25, 35), bool)
    mask[3:20, 5:30] = True
    enc = FoundationEncoder("virchow2", shrunk("virchow2"), random_init=True, context="4+8")
    out = extract(enc, image, mask)
    assert out.shape == (25, 35, 48 * 5) and np.isfinite(out).all()
    assert np.abs(out[mask]).sum(1).min() > 0
    tok, cls = out[..., :48], out[..., 48:96]
    assert not np.allclose(tok[4, 6], tok[4, 7])  # a token per superpixel
    assert np.allclose(cls[3, 5], cls[13, 13]) and not np.allclose(cls[3, 5], cls[3, 14])  # one per 14-superpixel tile
    again = FoundationEncoder("virchow2", shrunk("virchow2"), random_init=True, context="4+8", batch=1)
    assert np.array_equal(out, extract(again, image, mask))  # seeded weights; batches do not change a tile


def test_p2g_features_runs_a_preset_on_the_bundled_example(tmp_path, monkeypatch):
    monkeypatch.setitem(registry._REGISTRY, "uni2-h", registry.Entry(_factory("uni2-h", shrunk("uni2-h")),
                                                                       FoundationOptions))
    w, example = tmp_path, REPO / "assets" / "example" / "train"
    run_tool("p2g-rescale", "--prefix", f"{example}/", "--out", w / "rescale", "--measured")
    run_tool("p2g-mask", "--rescaled", w / "rescale", "--out", w / "mask")
    proc = run_tool("p2g-features", "--rescaled", w / "rescale", "--mask", w / "mask", "--out", w / "features",
                    "--encoder", "uni2-h", "--random-init", "--context", "8", "--threads", 1)
    assert "uni2-h" in proc.stderr
    from pixel2gene.artifacts.features import Features
    record = Features(w / "features").record.read()
    assert record["encoder"]["random_init"] and record["encoder"]["context"] == "8"
    assert record["n_channels"] == 27 + 48 * 3
    no_weights = run_tool("p2g-features", "--rescaled", w / "rescale", "--mask", w / "mask", "--out", w / "f2",
                          "--encoder", "uni2-h", check=False)
    assert no_weights.returncode == 2 and len(no_weights.stderr.strip().splitlines()) == 1


def test_p2g_run_with_a_preset_and_a_test_written_checkpoint(tmp_path, monkeypatch):
    """`p2g-run --encoder conch --weights pytorch_model.bin` end to end, CONCH's CoCa layout, shrunken network."""
    preset = shrunk("conch")
    monkeypatch.setitem(registry._REGISTRY, "conch", registry.Entry(_factory("conch", preset), FoundationOptions))
    state = published(preset, device="cpu", seed=2)
    torch.save({k: v for k, v in state.items() if not k.startswith("text.")}, tmp_path / "pytorch_model.bin")
    example = REPO / "assets" / "example"
    run_tool("p2g-run", "--train", f"{example}/train/", "--predict", f"{example}/test/", "--outdir", tmp_path / "out",
             "--encoder", "conch", "--weights", tmp_path / "pytorch_model.bin", "--epochs", 2, "--n-folds", 2,
             "--n-genes", 5, "--select", "mlp", "--map-top", 1, "--threads", 1)
    assert (tmp_path / "out" / "test" / "test.html").exists() or any((tmp_path / "out").rglob("*.html"))
    torch.save({"visual.trunk.cls_token": torch.zeros(1, 1, 48)}, tmp_path / "bad.bin")
    bad = run_tool("p2g-run", "--train", f"{example}/train/", "--predict", f"{example}/test/", "--outdir",
                   tmp_path / "out2", "--encoder", "conch", "--weights", tmp_path / "bad.bin", "--epochs", 2,
                   "--n-folds", 2, "--n-genes", 5, check=False)
    err = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and len(err) == 1, err  # before any step: nothing rescaled for nothing
    assert str(tmp_path / "bad.bin") in err[0] and "lacks" in err[0], err
    assert not (tmp_path / "out2" / "work").exists()
