"""PNG maps of a sample: an overview (H&E, tissue, QC, folds) and gene maps over the H&E."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..artifacts.maps import Maps
from ..artifacts.rescaled import Rescaled
from ..artifacts.result import Result
from ..artifacts.trainset import TrainingSet
from ..errors import InputError
from ..image import SUPERPIXEL
from ..tool.progress import Progress, say
from ..tool.stamps import input_stamp


@dataclass
class Args:
    result: str = field(metadata=dict(upstream=Result, help="the sample's p2g-combine output"))
    rescaled: str = field(metadata=dict(upstream=Rescaled, help="output directory of p2g-rescale for this sample"))
    out: str = field(metadata=dict(role="runtime", help="output directory for the PNGs"))
    folds: Optional[str] = field(default=None, metadata=dict(
        upstream=TrainingSet, help="p2g-folds output of this sample (adds QC and fold panels to the overview)"))
    genes: List[str] = field(default_factory=list, metadata=dict(nargs="*", help="genes to draw (besides --top)"))
    top: int = field(default=12, metadata=dict(help="also draw the N genes with the highest training counts"))
    map_px: int = field(default=900, metadata=dict(help="longest side of a gene map's H&E, in pixels"))


def pick_genes(available, named, top):
    unknown = [g for g in named if g not in set(available)]
    if unknown:
        raise InputError("--genes", f"gene '{unknown[0]}' was not predicted",
                         "name genes from the result's gene-names.txt")
    return list(dict.fromkeys(list(named) + list(available[:max(0, top)])))


OVERVIEW_PX = 800  # the overview's longest side: four panels side by side stay legible on a screen


def tissue_window(mask, margin=0.04):
    """Superpixel rows/columns of the tissue's bounding box plus a margin: gene maps skip empty glass."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    pad = max(2, int(margin * max(mask.shape)))
    return (slice(max(0, rows[0] - pad), min(mask.shape[0], rows[-1] + 1 + pad)),
            slice(max(0, cols[0] - pad), min(mask.shape[1], cols[-1] + 1 + pad)))


def run(args: Args) -> Maps:
    from ..figures.gene_map import draw_gene_map  # matplotlib loads only for the steps that draw
    from ..figures.overview import draw_overview
    from ..figures.thumbnail import thumbnail
    out = Path(args.out)
    params = input_stamp(args)
    if Maps.is_finished(out, params):
        say(f"maps: reusing {out}")
        return Maps(out)
    if args.map_px < 64:
        raise InputError("--map-px", f"{args.map_px} px is too small to read", "use 64 or more")
    result, rescaled = Result(args.result), Rescaled(args.rescaled)
    genes = pick_genes(result.genes.read(), args.genes, args.top)
    sample = rescaled.sample
    mask = result.tissue.read()
    units = "predicted counts per {:g} µm superpixel".format(SUPERPIXEL * sample["pixel_size"])
    bins = TrainingSet(args.folds).bins.read() if args.folds else None
    image = rescaled.image.read(mmap=True)
    say(f"maps {sample['name']}: overview + {len(genes)} gene maps")
    with Maps.create(out, params) as folder:
        thumb, factor = thumbnail(image, sample["shape"], OVERVIEW_PX)
        draw_overview(folder.file(Maps.OVERVIEW), thumb, factor, factor * sample["pixel_size"], mask, bins,
                      sample["name"])
        rows, cols = tissue_window(mask)
        crop = image[rows.start * SUPERPIXEL:rows.stop * SUPERPIXEL, cols.start * SUPERPIXEL:cols.stop * SUPERPIXEL]
        thumb, factor = thumbnail(crop, crop.shape[:2], args.map_px)
        folder.file(Maps.GENES).mkdir()
        drawn, progress = [], Progress(f"maps {sample['name']}")
        stems = result.file_stems()
        for k, gene in enumerate(genes):
            values = result.gene_map(gene)[rows, cols]
            name = folder.gene_png(stems[gene])
            vmin, vmax = draw_gene_map(folder.file(name), thumb, factor, factor * sample["pixel_size"], values,
                                       gene, units)
            drawn.append({"gene": gene, "file": name, "vmin": vmin, "vmax": vmax})
            progress(k + 1, len(genes))
        folder.record.write({"sample": sample["name"], "overview": Maps.OVERVIEW, "genes": drawn, "units": units,
                             "thumbnail_factor": factor,
                             "window_superpixels": [rows.start, rows.stop, cols.start, cols.stop]})
    return Maps(out)
