"""Predict every tissue superpixel of a sample with every given fold model."""
from dataclasses import dataclass, field
from typing import List

import torch

from ..artifacts.features import Features
from ..artifacts.mask import Mask
from ..artifacts.model import Model, ModelSet
from ..artifacts.predictions import Predictions
from ..choices import Standardise
from ..errors import InputError
from ..io.plausible import check_free_space
from ..prediction.predict import predict_sum
from ..tool.allocator import keep_big_allocations
from ..tool.device import resolve_device
from ..tool.options import device_field, out_field, threads_field, upstream_field
from ..tool.progress import Progress, say
from ..tool.stamps import start


@dataclass
class Args:
    features: str = upstream_field(Features, "for this sample")
    mask: str = upstream_field(Mask, "for this sample")
    model: List[str] = upstream_field(Model, nargs="+")
    out: str = out_field()
    standardise: str = field(default=Standardise.SECTION.value, metadata=dict(
        choices=Standardise.values(),
        help="feature statistics a channel is standardised with: the section's own (the method; absorbs a "
             "section-wide stain or scanner shift) or the training sets' (kept in the model)"))
    device: str = device_field()
    threads: int = threads_field()


def run(args: Args) -> Predictions:
    out, params, done = start(Predictions, args)
    if done:
        return done
    device = resolve_device(args.device)
    keep_big_allocations()  # torch's big activations: reuse freed blocks, no page faults
    if args.threads:
        torch.set_num_threads(args.threads)
    models = ModelSet([Model(m) for m in args.model])
    features = Features(args.features)
    feats = features.map.read(mmap=True)
    if feats.shape[2] != models.info["n_features"]:
        raise InputError(args.features, f"{feats.shape[2]} feature channels, the model expects "
                         f"{models.info['n_features']}", "extract features with the encoder used for training")
    mask = Mask(args.mask).tissue.read()
    mean, std = models.channel_stats() if args.standardise == Standardise.TRAINING else features.channel_stats()
    genes = models.genes
    say(f"predict: {len(models.states)} fold model(s) x {int(mask.sum())} superpixels x {len(genes)} genes "
        f"on {device}")
    check_free_space(out.parent, len(genes) * int(mask.sum()) * 4, "the fold predictions")
    with Predictions.create(out, params) as folder:
        sums = folder.create_sums(len(genes), int(mask.sum()))
        n = predict_sum(feats, mask, mean, std, models, sums, device, Progress("predict"))
        sums.flush()
        del sums
        folder.genes.write(genes)
        folder.record.write({
            "n_models": n, "folds": models.folds, "n_tissue": int(mask.sum()), "device": device,
            "standardised_with": args.standardise, "encoder": features.record.read()["encoder"],
            "training": {k: models.info.get(k) for k in ("samples", "n_folds", "config", "version")}})
    return Predictions(out)
