"""Average the folds and write the sample's results: one map per gene and a record."""
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

import numpy as np

from .. import __version__
from ..errors import InputError
from ..genes.names import NAMES, gene_file_names, read_gene_names, write_gene_files, write_gene_names
from ..io.outputs import load_npy, read_json, write_json
from ..io.plausible import check_free_space
from ..tool.progress import Progress, say
from ..tool.reuse import StepOutput, finished, input_stamp
from ..prediction.maps import open_partials, write_gene_maps


@dataclass
class Args:
    pred: List[str] = field(metadata=dict(nargs="+", upstream="predict",
                                          help="output directories of p2g-predict for this sample"))
    rescaled: str = field(metadata=dict(upstream="rescale", help="output directory of p2g-rescale for this sample"))
    mask: str = field(metadata=dict(upstream="mask", help="output directory of p2g-mask for this sample"))
    out: str = field(metadata=dict(role="runtime", help="the sample's result directory"))
    threads: int = field(default=0, metadata=dict(role="runtime", help="threads writing maps (0 = all cores)"))


def versions() -> dict:
    import numpy
    import pandas
    import torch
    return {"pixel2gene": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "pandas": pandas.__version__, "torch": torch.__version__}


def run(args: Args) -> Path:
    out = Path(args.out)
    params = input_stamp(args)
    if finished(out, params, "combine"):
        say(f"combine: reusing {out}")
        return out
    t0 = time.time()
    genes = None
    for p in map(Path, args.pred):
        if not (p / "pred.json").is_file():
            raise InputError(p, "not a p2g-predict output", "give the directories written by p2g-predict")
        g = read_gene_names(p / NAMES)
        if genes is not None and g != genes:
            raise InputError(p, "predictions of different genes", "combine predictions of one training run")
        genes = g
    sample = read_json(Path(args.rescaled) / "sample.json")
    mask = load_npy(Path(args.mask) / "mask.npy")
    parts, n_models = open_partials(args.pred)
    if any(p.shape != (len(genes), int(mask.sum())) for p in parts):
        raise InputError(args.pred[0], "prediction does not match this sample's tissue mask",
                         "predict with the same p2g-mask output")
    say(f"combine {sample['name']}: {n_models} fold predictions -> {len(genes)} gene maps")
    # one float32 grid per gene, NaN off tissue: the largest output of a run (3 GB for 1000 genes on a 1 cm section)
    check_free_space(out.parent, len(genes) * mask.size * 4, "the gene maps")
    with StepOutput(out, params, "combine") as tmp:
        files = gene_file_names(genes)
        write_gene_maps(tmp / "cnts-super", genes, files, parts, n_models, mask,
                        Progress(f"combine {sample['name']}"), threads=args.threads)
        write_gene_names(tmp, genes)
        write_gene_files(tmp, files)
        np.save(tmp / "mask.npy", mask, allow_pickle=False)
        mask_png = Path(args.mask) / "mask.png"
        if mask_png.is_file():
            (tmp / "mask.png").write_bytes(mask_png.read_bytes())
        write_json(tmp / "metadata.json", {
            "sample": sample, "mask": read_json(Path(args.mask) / "mask.json"),
            "prediction": [read_json(Path(p) / "pred.json") for p in args.pred],
            "n_models": n_models, "n_genes": len(genes), "grid_shape": list(mask.shape),
            "superpixel_px": 16, "superpixel_um": 16 * sample["pixel_size"],
            "units": "counts per superpixel (sum over a bin's superpixels estimates its counts)",
            "versions": versions(), "combine_seconds": round(time.time() - t0, 2)})
    return out
