"""Foundation-model checkpoints: read without running code, renamed onto TokenViT's (timm's) names, checked.

Files: .safetensors through the safetensors package; anything else through
torch.load(weights_only=True) (plain tensors and containers only). `hf-hub:ORG/NAME`
downloads the preset's file through huggingface_hub when it is installed and the
network and a token allow. Layouts:

- timm: the published state dict is the network's (UNI, UNI2-h, Virchow2, H-optimus,
  Prov-GigaPath); a head, if any, is dropped.
- hf-dinov2: a transformers Dinov2Model (Phikon-v2): embeddings.* and encoder.layer.N.*,
  with separate query/key/value that are stacked into qkv (q, k, v rows, as timm splits them).
- conch: the whole CoCa model; its image tower's trunk (visual.trunk.*) is a timm ViT-B/16,
  and the rest (text tower, attentional poolers) is dropped.

An unpacked SwiGLU (timm's SwiGLU: mlp.fc1_g gate, mlp.fc1_x value) is packed into fc1.
"""
import re
from pathlib import Path

import torch

from ..errors import InputError

HUB = "hf-hub:"


def read_tensors(source: str, hub_file: str, label: str) -> tuple:
    """(name -> tensor, the file read) from a local file or hf-hub:ORG/NAME."""
    path = _hub_download(source, hub_file, label) if str(source).startswith(HUB) else Path(source)
    if not path.is_file():
        raise InputError(path, "checkpoint file is missing", f"give the path of the {label} checkpoint")
    state = _read_safetensors(path) if path.suffix == ".safetensors" else _read_torch(path, label)
    for key in ("state_dict", "model", "teacher"):  # training checkpoints wrap the weights
        if isinstance(state.get(key), dict):
            state = state[key]
            break
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise InputError(path, "checkpoint holds no tensors", f"give the {label} checkpoint")
    return tensors, path


def _read_torch(path: Path, label: str) -> dict:
    try:  # mmap: a 4.5 GB checkpoint is paged in as it is copied, not read twice into memory
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # files from before torch 1.6's zip format cannot be mapped
        state = _load_plain(path, label)
    except Exception as exc:
        raise _not_plain(path, label, exc) from None
    if not isinstance(state, dict):
        raise InputError(path, "checkpoint holds no state dict", f"give the {label} checkpoint")
    return state


def _load_plain(path: Path, label: str):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise _not_plain(path, label, exc) from None


def _not_plain(path, label, exc):
    return InputError(path, f"checkpoint does not load as plain tensors ({type(exc).__name__})",
                      f"give the {label} checkpoint as published (.bin, .pth or .safetensors)")


def _read_safetensors(path: Path) -> dict:
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise InputError(path, "reading .safetensors needs the safetensors package",
                         "pip install safetensors (or give a .bin/.pth state dict)") from None
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:
        raise InputError(path, f"not a readable safetensors file ({type(exc).__name__})",
                         "give the checkpoint as published") from None


def _hub_download(source: str, hub_file: str, label: str) -> Path:
    repo = source[len(HUB):].strip("/")
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise InputError(source, "hf-hub: weights need the huggingface_hub package",
                         f"pip install huggingface_hub, or download {hub_file} and give its path") from None
    try:
        return Path(hf_hub_download(repo_id=repo, filename=hub_file))
    except Exception as exc:  # offline, no token, no access to the gated repository
        raise InputError(source, f"could not fetch {hub_file} ({type(exc).__name__})",
                         f"request access to huggingface.co/{repo}, log in (huggingface-cli login) and retry "
                         "online, or download the file and give its path") from None


def _strip(key: str, prefixes=("module.",)) -> str:
    for prefix in prefixes:
        while key.startswith(prefix):
            key = key[len(prefix):]
    return key


def from_timm(state: dict) -> dict:
    return {_strip(k): v for k, v in state.items() if not _strip(k).startswith(("head.", "fc_norm."))}


def from_conch(state: dict) -> dict:
    trunk = "visual.trunk."
    return {_strip(k)[len(trunk):]: v for k, v in state.items() if _strip(k).startswith(trunk)}


_HF_NAMES = [  # transformers Dinov2Model -> timm, by pattern
    (r"embeddings\.cls_token", "cls_token"),
    (r"embeddings\.register_tokens", "reg_token"),
    (r"embeddings\.position_embeddings", "pos_embed"),
    (r"embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
    (r"encoder\.layer\.(\d+)\.norm([12])\.", r"blocks.\1.norm\2."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"blocks.\1.attn.proj."),
    (r"encoder\.layer\.(\d+)\.layer_scale([12])\.lambda1", r"blocks.\1.ls\2.gamma"),
    (r"encoder\.layer\.(\d+)\.mlp\.(fc[12])\.", r"blocks.\1.mlp.\2."),
    (r"encoder\.layer\.(\d+)\.mlp\.weights_in\.", r"blocks.\1.mlp.fc1."),
    (r"encoder\.layer\.(\d+)\.mlp\.weights_out\.", r"blocks.\1.mlp.fc2."),
    (r"layernorm\.", "norm."),
]
_HF_QKV = re.compile(r"encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.(weight|bias)")


def from_hf_dinov2(state: dict) -> dict:
    out, qkv = {}, {}
    for key, v in state.items():
        key = _strip(key, ("module.", "dinov2."))
        m = _HF_QKV.fullmatch(key)
        if m:
            qkv.setdefault((m[1], m[3]), {})[m[2]] = v
            continue
        for pattern, name in _HF_NAMES:
            if re.match(pattern, key):
                out[re.sub(pattern, name, key, count=1)] = v
                break
        # anything else (mask_token, a pooler) has no place in the network and is left out
    for (layer, kind), parts in qkv.items():
        if len(parts) == 3:  # a missing one shows up as a missing qkv tensor
            out[f"blocks.{layer}.attn.qkv.{kind}"] = torch.cat([parts["query"], parts["key"], parts["value"]])
    return out


def pack_swiglu(state: dict) -> dict:
    """timm's unpacked SwiGLU (fc1_g: gate, fc1_x: value) as the packed fc1 the network has."""
    out = dict(state)
    for key in [k for k in state if ".mlp.fc1_g." in k]:
        value_key = key.replace(".fc1_g.", ".fc1_x.")
        if value_key in out:
            out[key.replace(".fc1_g.", ".fc1.")] = torch.cat([out.pop(key), out.pop(value_key)])
    return out


LAYOUTS = {"timm": from_timm, "hf-dinov2": from_hf_dinov2, "conch": from_conch}


def to_network(state: dict, layout: str) -> dict:
    return pack_swiglu(LAYOUTS[layout](state))


def check_fits(expected: dict, state: dict, path, label: str) -> None:
    """Every tensor the network has is in `state` with its shape, and nothing else is: else one line."""
    fix = f"give the {label} checkpoint (the preset's architecture is in docs/encoders.md)"
    missing = [k for k in expected if k not in state]
    if missing:
        raise InputError(path, f"checkpoint lacks '{missing[0]}' ({len(missing)} tensors missing)", fix)
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise InputError(path, f"'{k}' has shape {tuple(state[k].shape)}, the network needs {tuple(v.shape)}",
                             fix)
    extra = [k for k in state if k not in expected]
    if extra:
        raise InputError(path, f"checkpoint has '{extra[0]}', which the network lacks ({len(extra)} such tensors)",
                         fix)
