"""PNG maps of a sample: an overview (H&E, tissue, QC, folds) and gene maps over the H&E."""
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ..artifacts.maps import Maps
from ..artifacts.rescaled import Rescaled
from ..artifacts.result import Result
from ..artifacts.trainset import TrainingSet
from ..errors import InputError
from ..image import SUPERPIXEL
from ..image.superpixels import bounding_box
from ..tool.progress import Progress, say
from ..tool.options import out_field, upstream_field
from ..tool.stamps import start


@dataclass
class Args:
    result: str = upstream_field(Result, "(the sample's results)")
    rescaled: str = upstream_field(Rescaled, "for this sample")
    out: str = out_field("output directory for the PNGs")
    trainset: Optional[str] = upstream_field(TrainingSet, "of this sample (adds QC and fold panels to the overview)",
                                             default=None, renamed_from="--folds")
    map_genes: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", renamed_from="--genes", help="genes to draw as maps (besides --map-top)"))
    map_top: int = field(default=12, metadata=dict(
        least=0, renamed_from="--top", help="also draw the N genes predicted best by spatial CV on the training "
                                           "bins (the most measured where there is no CV)"))
    map_px: int = field(default=900, metadata=dict(least=64, help="longest side of a gene map's H&E, in pixels"))


def pick_genes(available, named, top, skill=None):
    """The genes named, then the `top` the model predicts best out of fold (the most measured, as `available`
    is ordered, when there is no skill table)."""
    unknown = [g for g in named if g not in set(available)]
    if unknown:
        raise InputError("--map-genes", f"gene '{unknown[0]}' was not predicted",
                         "name genes from the result's gene-names.txt")
    ranked = list(available)
    if skill is not None:
        r = skill.set_index("gene")["cv_r_composition"].reindex(ranked).fillna(-np.inf).to_numpy()
        ranked = [ranked[i] for i in np.argsort(-r, kind="stable")]
    return list(dict.fromkeys(list(named) + ranked[:max(0, top)]))


OVERVIEW_PX = 800  # the overview's longest side: four panels side by side stay legible on a screen


def tissue_window(mask, margin=0.04):
    """The tissue's bounding box plus a margin of 4 % of the grid: gene maps skip empty glass."""
    return bounding_box(mask, max(2, int(margin * max(mask.shape))))


def run(args: Args) -> Maps:
    from ..figures.gene_map import draw_gene_map  # matplotlib loads only for the steps that draw
    from ..figures.overview import draw_overview
    from ..figures.thumbnail import thumbnail
    out, params, done = start(Maps, args)
    if done:
        return done
    result, rescaled = Result(args.result), Rescaled(args.rescaled)
    skill = result.skill.read()
    genes = pick_genes(result.genes.read(), args.map_genes, args.map_top,
                       skill if skill["cv_r_composition"].notna().any() else None)
    sample = rescaled.sample
    mask = result.tissue.read()
    units = "predicted counts per {:g} µm superpixel".format(SUPERPIXEL * sample["pixel_size"])
    bins = TrainingSet(args.trainset).bins.read() if args.trainset else None
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
        novelty = None
        if result.novelty.exists():
            draw_gene_map(folder.file(Maps.NOVELTY), thumb, factor, factor * sample["pixel_size"],
                          result.novelty.read()[rows, cols], "novelty: how unlike the training tissue",
                          "share of held-out training tissue nearer the training tissue", limits=(0.0, 1.0))
            novelty = Maps.NOVELTY
        folder.record.write({"sample": sample["name"], "overview": Maps.OVERVIEW, "novelty": novelty,
                             "genes": drawn, "units": units,
                             "thumbnail_factor": factor,
                             "window_superpixels": [rows.start, rows.stop, cols.start, cols.stop]})
    return Maps(out)
