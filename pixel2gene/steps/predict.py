"""Predict every tissue superpixel of a sample with every given fold model."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Literal

import numpy as np
import torch

from ..errors import InputError
from ..genes.names import write_gene_names
from ..io.outputs import load_npy, read_json, write_json
from ..io.plausible import check_free_space
from ..model.checkpoint import ModelSet
from ..tool.allocator import keep_big_allocations
from ..tool.device import DEVICE_HELP, resolve_device
from ..tool.progress import Progress, say
from ..tool.reuse import StepOutput, finished, input_stamp
from ..prediction.predict import predict_sum


@dataclass
class Args:
    features: str = field(metadata=dict(upstream="features", help="output directory of p2g-features for this sample"))
    mask: str = field(metadata=dict(upstream="mask", help="output directory of p2g-mask for this sample"))
    model: List[str] = field(metadata=dict(nargs="+", upstream="train", help="output directories of p2g-train"))
    out: str = field(metadata=dict(role="runtime", help="output directory of this step"))
    standardise: Literal["section", "training"] = field(default="section", metadata=dict(
        help="feature statistics a channel is standardised with: the section's own (the method; absorbs a "
             "section-wide stain or scanner shift) or the training sets' (kept in the model)"))
    device: str = field(default="auto", metadata=dict(role="runtime", help=DEVICE_HELP))
    threads: int = field(default=0, metadata=dict(role="runtime", help="CPU threads for torch (0 = all cores)"))


def run(args: Args) -> Path:
    out = Path(args.out)
    params = input_stamp(args)
    device = resolve_device(args.device)
    if finished(out, params, "predict"):
        say(f"predict: reusing {out}")
        return out
    keep_big_allocations()  # torch's big activations: reuse freed blocks, no page faults
    if args.threads:
        torch.set_num_threads(args.threads)
    models = ModelSet(args.model)
    feats = load_npy(Path(args.features) / "features.npy", mmap=True)
    if feats.shape[2] != models.info["n_features"]:
        raise InputError(args.features, f"{feats.shape[2]} feature channels, the model expects "
                         f"{models.info['n_features']}", "extract features with the encoder used for training")
    mask = load_npy(Path(args.mask) / "mask.npy")
    if args.standardise == "training":
        mean, std = models.channel_stats()
    else:
        mean = load_npy(Path(args.features) / "channel-mean.npy")
        std = load_npy(Path(args.features) / "channel-std.npy")
    genes = models.genes
    say(f"predict: {len(models.states)} fold model(s) x {int(mask.sum())} superpixels x {len(genes)} genes "
        f"on {device}")
    check_free_space(out.parent, len(genes) * int(mask.sum()) * 4, "the fold predictions")
    with StepOutput(out, params, "predict") as tmp:
        sums = np.lib.format.open_memmap(tmp / "pred-sum.npy", mode="w+", dtype=np.float32,
                                         shape=(len(genes), int(mask.sum())))
        n = predict_sum(feats, mask, mean, std, models, sums, device, Progress("predict"))
        sums.flush()
        del sums
        write_gene_names(tmp, genes)
        write_json(tmp / "pred.json", {
            "n_models": n, "folds": models.folds, "n_tissue": int(mask.sum()), "device": device,
            "standardised_with": args.standardise,
            "encoder": read_json(Path(args.features) / "features.json")["encoder"],
            "training": {k: models.info.get(k) for k in ("samples", "n_folds", "config", "version")}})
    return out
