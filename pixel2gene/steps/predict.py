"""Predict every tissue superpixel of a sample with every given fold model."""
from dataclasses import dataclass, field
from typing import List

import numpy as np
import torch

from ..artifacts.features import Features
from ..artifacts.mask import Mask
from ..artifacts.model import Model, ModelSet
from ..artifacts.predictions import Predictions
from ..choices import Standardise, Unfamiliar
from ..errors import InputError
from ..io.plausible import check_free_space
from ..model.novelty import NOVEL_QUANTILE
from ..prediction.predict import FULL_FALLBACK_RATIO, Familiarity, assess_novelty, predict_sum
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
             "section-wide stain or scanner shift, measured on its tissue that is like the training tissue) or "
             "the training sets' (kept in the model)"))
    unfamiliar: str = field(default=Unfamiliar.COLOUR.value, metadata=dict(
        choices=Unfamiliar.values(),
        help="where a superpixel's tissue is unlike the training tissue (farther from it than 99 %% of held-out "
             f"training tissue), lean on the colour ridge, fully from {FULL_FALLBACK_RATIO:g} times that distance "
             "(colour), or keep the model alone (keep); docs/method.md"))
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
    mask = Mask(args.mask).tissue.read()
    feats = features.tissue_rows(mask)
    if feats.shape[1] != models.info["n_features"]:
        raise InputError(args.features, f"{feats.shape[1]} feature channels, the model expects "
                         f"{models.info['n_features']}", "extract features with the encoder used for training")
    genes = models.genes
    say(f"predict: {len(models.states)} fold model(s) x {int(mask.sum())} superpixels x {len(genes)} genes "
        f"on {device}")
    check_free_space(out.parent, len(genes) * int(mask.sum()) * 4, "the fold predictions")
    n_tissue = int(mask.sum())
    familiarity = Familiarity(models.novelty(), *models.channel_stats(), models.colour_ridge(),
                              args.unfamiliar == Unfamiliar.COLOUR, np.zeros(n_tissue, np.float32),
                              np.zeros(n_tissue, np.float32))
    familiar = assess_novelty(feats, familiarity, device)
    mean, std, stats_from = *features.channel_stats(), "section"
    if args.standardise == Standardise.TRAINING:
        (mean, std), stats_from = models.channel_stats(), "training"
    elif familiar is not None:
        mean, std, share = familiar
        stats_from = f"section's familiar tissue ({100 * share:.1f}%)"
        say(f"predict: section statistics from the {100 * share:.1f}% of its tissue that is like the training "
            "tissue")
    with Predictions.create(out, params) as folder:
        sums = folder.create_sums(len(genes), n_tissue)
        n = predict_sum(feats, mask, mean, std, models, sums, device, Progress("predict"), familiarity)
        sums.flush()
        del sums
        folder.novelty.write(familiarity.quantile)
        folder.colour_share.write(familiarity.weight)
        novel = float((familiarity.quantile > NOVEL_QUANTILE).mean())
        say(f"predict: {100 * novel:.1f}% of the tissue is unlike the training tissue (novelty > "
            f"{NOVEL_QUANTILE}); the colour ridge carries {100 * float(familiarity.weight.mean()):.1f}% of the "
            "prediction")
        folder.genes.write(genes)
        skill = models.skill_sums()
        if skill is not None:
            folder.skill.write(skill)
        folder.record.write({
            "n_models": n, "folds": models.folds, "n_tissue": int(mask.sum()), "device": device,
            "standardised_with": args.standardise, "statistics_from": stats_from, "encoder": features.record.read()["encoder"],
            "unfamiliar": args.unfamiliar, "novel_fraction": round(novel, 4),
            "colour_share": round(float(familiarity.weight.mean()), 4),
            "training": {k: models.info.get(k) for k in ("samples", "n_folds", "config", "version")}})
    return Predictions(out)
