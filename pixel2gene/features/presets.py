"""The pathology foundation models, as facts: architecture, preprocessing, token rule, checkpoint layout.

Every number comes from the model's card, config or reference loader; docs/encoders.md
lists each with its source (and tests/test_encoders.py checks this table against that
one). The weights are not here: each model is gated, and the user gives the checkpoint
they were granted (--weights).
"""
from dataclasses import dataclass
from typing import Tuple

from .nets.token_vit import ViTSpec

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
OPENAI_CLIP = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))
H_OPTIMUS = ((0.707223, 0.578729, 0.703617), (0.211883, 0.230117, 0.177517))
TOKEN_RULES = ("patch", "patch+cls", "patch+cls+mean")


@dataclass(frozen=True)
class Preset:
    arch: ViTSpec
    input_size: int                  # tile side the model was trained on, network pixels
    norm: Tuple[tuple, tuple]        # mean, std of [0, 1] RGB
    tokens: str                      # per superpixel: its patch token, + the tile's class token, + their mean
    checkpoint: str                  # key layout of the published file (features/checkpoints.py)
    hub: str                         # Hugging Face repository, for --weights hf-hub:
    hub_file: str
    licence: str
    um_per_px: float = 0.5           # magnification the tiles are read at

    def __post_init__(self):
        assert self.tokens in TOKEN_RULES, self.tokens
        # a tile must hold whole superpixels (16 px at 0.5 µm/px) and whole tokens
        assert self.input_size % 16 == 0 and self.input_size % self.arch.patch == 0, self.input_size
        assert self.um_per_px == 0.5, "the fine pass reads the 0.5 µm/px image as it is"


def _vit(dim, depth, heads, patch, mlp_ratio, **kw):
    return ViTSpec(dim=dim, depth=depth, heads=heads, patch=patch, mlp_ratio=mlp_ratio, **kw)


PRESETS = {
    "uni": Preset(_vit(1024, 24, 16, 16, 4.0, layerscale=1e-5, grid=14), 224, IMAGENET, "patch+cls",
                  "timm", "MahmoodLab/UNI", "pytorch_model.bin", "CC-BY-NC-ND 4.0"),
    "uni2-h": Preset(_vit(1536, 24, 24, 14, 2.66667 * 2, mlp="swiglu", registers=8, pos_prefix=False,
                          layerscale=1e-5, grid=16), 224, IMAGENET, "patch+cls",
                     "timm", "MahmoodLab/UNI2-h", "pytorch_model.bin", "CC-BY-NC-ND 4.0"),
    "virchow2": Preset(_vit(1280, 32, 16, 14, 5.3375, mlp="swiglu", registers=4, layerscale=1e-5, grid=16),
                       224, IMAGENET, "patch+cls+mean",
                       "timm", "paige-ai/Virchow2", "pytorch_model.bin", "CC-BY-NC-ND 4.0"),
    "h-optimus-0": Preset(_vit(1536, 40, 24, 14, 2.66667 * 2, mlp="swiglu", registers=4, pos_prefix=False,
                               layerscale=1e-5, grid=16), 224, H_OPTIMUS, "patch+cls",
                          "timm", "bioptimus/H-optimus-0", "pytorch_model.bin", "Apache-2.0"),
    "h-optimus-1": Preset(_vit(1536, 40, 24, 14, 2.66667 * 2, mlp="swiglu", registers=4, pos_prefix=False,
                               layerscale=1e-5, grid=16), 224, H_OPTIMUS, "patch+cls",
                          "timm", "bioptimus/H-optimus-1", "pytorch_model.bin", "see its model card"),
    "phikon-v2": Preset(_vit(1024, 24, 16, 16, 4.0, layerscale=1.0, grid=14, pos_antialias=False), 224, IMAGENET,
                        "patch+cls", "hf-dinov2", "owkin/phikon-v2", "model.safetensors",
                        "Owkin non-commercial"),
    "prov-gigapath": Preset(_vit(1536, 40, 24, 16, 5.33334, mlp="swiglu", layerscale=1e-5, grid=14), 224,
                            IMAGENET, "patch+cls", "timm", "prov-gigapath/prov-gigapath", "pytorch_model.bin",
                            "Apache-2.0 (research use)"),
    "conch": Preset(_vit(768, 12, 12, 16, 4.0, grid=28), 448, OPENAI_CLIP, "patch",
                    "conch", "MahmoodLab/conch", "pytorch_model.bin", "CC-BY-NC-ND 4.0"),
}
