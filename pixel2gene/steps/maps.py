"""PNG maps of a sample: an overview (H&E, tissue, QC, folds) and gene maps over the H&E."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import numpy as np
import pandas as pd

from ..image import SUPERPIXEL

from ..errors import InputError
from ..genes.names import NAMES, read_gene_files, read_gene_names
from ..io.outputs import load_npy, read_json, write_json
from ..tool.progress import Progress, say
from ..tool.reuse import StepOutput, finished, input_stamp


@dataclass
class Args:
    result: str = field(metadata=dict(upstream="combine", help="the sample's p2g-combine output"))
    rescaled: str = field(metadata=dict(upstream="rescale", help="output directory of p2g-rescale for this sample"))
    out: str = field(metadata=dict(role="runtime", help="output directory for the PNGs"))
    folds: Optional[str] = field(default=None, metadata=dict(
        upstream="folds", help="p2g-folds output of this sample (adds QC and fold panels to the overview)"))
    genes: List[str] = field(default_factory=list, metadata=dict(nargs="*", help="genes to draw (besides --top)"))
    top: int = field(default=12, metadata=dict(help="also draw the N genes with the highest training counts"))
    map_px: int = field(default=900, metadata=dict(help="longest side of a gene map's H&E, in pixels"))


def pick_genes(available, named, top):
    unknown = [g for g in named if g not in set(available)]
    if unknown:
        raise InputError("--genes", f"gene '{unknown[0]}' was not predicted",
                         "name genes from the result's gene-names.txt")
    return list(dict.fromkeys(list(named) + list(available[:max(0, top)])))


def tissue_window(mask, margin=0.04):
    """Superpixel rows/columns of the tissue's bounding box plus a margin: gene maps skip empty glass."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    pad = max(2, int(margin * max(mask.shape)))
    return (slice(max(0, rows[0] - pad), min(mask.shape[0], rows[-1] + 1 + pad)),
            slice(max(0, cols[0] - pad), min(mask.shape[1], cols[-1] + 1 + pad)))


def run(args: Args) -> Path:
    from ..figures.gene_map import draw_gene_map  # matplotlib loads only for the steps that draw
    from ..figures.overview import draw_overview
    from ..figures.thumbnail import thumbnail
    out, result, rescaled = Path(args.out), Path(args.result), Path(args.rescaled)
    params = input_stamp(args)
    if finished(out, params, "maps"):
        say(f"maps: reusing {out}")
        return out
    if not (result / "metadata.json").is_file():
        raise InputError(result, "not a p2g-combine output", "give the sample's result directory")
    if args.map_px < 64:
        raise InputError("--map-px", f"{args.map_px} px is too small to read", "use 64 or more")
    available = read_gene_names(result / NAMES)
    files = read_gene_files(result)
    genes = pick_genes(available, args.genes, args.top)
    sample = read_json(rescaled / "sample.json")
    mask = load_npy(result / "mask.npy")
    units = "predicted counts per {:g} µm superpixel".format(16 * sample["pixel_size"])
    bins = pd.read_parquet(Path(args.folds) / "bins.parquet") if args.folds else None
    image = load_npy(rescaled / "image.npy", mmap=True)
    say(f"maps {sample['name']}: overview + {len(genes)} gene maps")
    with StepOutput(out, params, "maps") as tmp:
        thumb, factor = thumbnail(image, sample["shape"], 800)
        draw_overview(tmp / "overview.png", thumb, factor, factor * sample["pixel_size"], mask, bins,
                      sample["name"])
        rows, cols = tissue_window(mask)
        crop = image[rows.start * SUPERPIXEL:rows.stop * SUPERPIXEL, cols.start * SUPERPIXEL:cols.stop * SUPERPIXEL]
        thumb, factor = thumbnail(crop, crop.shape[:2], args.map_px)
        (tmp / "genes").mkdir()
        drawn, progress = [], Progress(f"maps {sample['name']}")
        for k, gene in enumerate(genes):
            values = load_npy(result / "cnts-super" / f"{files[gene]}.npy", mmap=True)[rows, cols]
            name = f"genes/{files[gene]}.png"
            vmin, vmax = draw_gene_map(tmp / name, thumb, factor, factor * sample["pixel_size"], values, gene, units)
            drawn.append({"gene": gene, "file": name, "vmin": vmin, "vmax": vmax})
            progress(k + 1, len(genes))
        write_json(tmp / "maps.json", {"sample": sample["name"], "overview": "overview.png", "genes": drawn,
                                       "units": units, "thumbnail_factor": factor,
                                       "window_superpixels": [rows.start, rows.stop, cols.start, cols.stop]})
    return out
