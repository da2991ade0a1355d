"""Average the folds and write the sample's results: one map per gene and a record."""
import platform
import time
from dataclasses import dataclass
from typing import List

import numpy as np

from .. import __version__
from ..artifacts.mask import Mask
from ..artifacts.predictions import Predictions
from ..artifacts.rescaled import Rescaled
from ..artifacts.result import Result
from ..errors import InputError
from ..evaluation.trust import warnings
from ..image import SUPERPIXEL
from ..io.plausible import check_free_space
from ..model.novelty import NOVEL_QUANTILE
from ..prediction.maps import on_grid, write_gene_maps
from ..tool.options import out_field, threads_field, upstream_field
from ..tool.progress import Progress, say
from ..tool.stamps import start
from ..training.skill import skill_table, summary, unknown_skill


@dataclass
class Args:
    pred: List[str] = upstream_field(Predictions, "for this sample", nargs="+")
    rescaled: str = upstream_field(Rescaled, "for this sample")
    mask: str = upstream_field(Mask, "for this sample")
    out: str = out_field("the sample's result directory")
    threads: int = threads_field("threads writing maps")


def versions() -> dict:
    import numpy
    import pandas
    import torch
    return {"pixel2gene": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "pandas": pandas.__version__, "torch": torch.__version__}


def _skill(preds, genes):
    """The per-gene skill of the models behind these predictions (each task's folds pooled), or None where they
    held nothing out."""
    if not all(p.skill.exists() for p in preds):
        return None
    return skill_table(genes, sum(p.skill.read() for p in preds))


def run(args: Args) -> Result:
    out, params, done = start(Result, args)
    if done:
        return done
    t0 = time.time()
    preds = [Predictions(p) for p in args.pred]
    genes = preds[0].genes.read()
    for p in preds[1:]:
        if p.genes.read() != genes:
            raise InputError(p.path, "predictions of different genes", "combine predictions of one training run")
    sample = Rescaled(args.rescaled).sample
    mask_folder = Mask(args.mask)
    mask = mask_folder.tissue.read()
    parts = [p.sums.read(mmap=True) for p in preds]
    n_models = sum(p.n_models for p in preds)
    if any(p.shape != (len(genes), int(mask.sum())) for p in parts):
        raise InputError(args.pred[0], "prediction does not match this sample's tissue mask",
                         "predict with the same p2g-mask output")
    say(f"combine {sample['name']}: {n_models} fold predictions -> {len(genes)} gene maps")
    # one float32 grid per gene, NaN off tissue: the largest output of a run (3 GB for 1000 genes on a 1 cm section)
    check_free_space(out.parent, len(genes) * mask.size * 4, "the gene maps")
    skill = _skill(preds, genes)
    weights = np.array([p.n_models for p in preds], np.float64) / n_models
    novelty = sum(w * p.novelty.read() for w, p in zip(weights, preds))
    colour_share = sum(w * p.colour_share.read() for w, p in zip(weights, preds))
    familiarity = {"novel_fraction": round(float((novelty > NOVEL_QUANTILE).mean()), 4),
                   "novel_quantile": NOVEL_QUANTILE, "colour_share": round(float(colour_share.mean()), 4),
                   "leans_on_colour": bool(colour_share.any())}  # not with --unfamiliar keep
    warned = warnings(summary(skill) if skill is not None else None, familiarity["novel_fraction"],
                      sample["pixel_size_raw"], leans_on_colour=familiarity["leans_on_colour"])
    for w in warned:
        say(f"combine {sample['name']}: warning: {w}")
    with Result.create(out, params) as folder:
        write_gene_maps(folder, genes, parts, n_models, mask, Progress(f"combine {sample['name']}"),
                        threads=args.threads)
        # always written, so that whoever stages the result's small files finds it (NaN: nothing held out)
        folder.skill.write(skill if skill is not None else unknown_skill(genes), float_format="%.4f")
        folder.novelty.write(on_grid(novelty, mask))
        folder.colour_share.write(on_grid(colour_share, mask))
        folder.tissue.write(mask)
        folder.overlay.copy_from(mask_folder.overlay)
        folder.record.write({
            "sample": sample, "mask": mask_folder.record.read(),
            "prediction": [p.record.read() for p in preds],
            "n_models": n_models, "n_genes": len(genes), "grid_shape": list(mask.shape),
            "superpixel_px": SUPERPIXEL, "superpixel_um": SUPERPIXEL * sample["pixel_size"],
            "units": "counts per superpixel (sum over a bin's superpixels estimates its counts)",
            "skill": summary(skill) if skill is not None else None, "familiarity": familiarity,
            "warnings": warned,
            "versions": versions(), "combine_seconds": round(time.time() - t0, 2)})
    return Result(out)
