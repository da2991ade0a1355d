"""Cluster a sample's predicted expression into tissue domains: labels, their top genes and a map."""
from dataclasses import dataclass, field

import numpy as np

from ..artifacts.domains import Domains
from ..artifacts.rescaled import Rescaled
from ..artifacts.result import Result, check_same_sample
from ..errors import InputError
from ..image import SUPERPIXEL
from ..tool.options import out_field, upstream_field
from ..tool.progress import say
from ..tool.stamps import start
from .maps import tissue_window

DEFAULT_DOMAINS = 8  # a handful of compartments (tumour, stroma, immune, ...) with room for their borders
LEGEND_GENES = 3     # top genes named beside each domain's colour


@dataclass
class Args:
    result: str = upstream_field(Result, "(the sample's results)")
    rescaled: str = upstream_field(Rescaled, "for this sample")
    out: str = out_field("output directory: domains.npy, top-genes.tsv, domains.png, domains.json")
    domains: int = field(default=DEFAULT_DOMAINS, metadata=dict(
        least=2, most=40, help="number of tissue domains (k-means clusters of the PCA of the log-normalised "
                               "predictions)"))
    seed: int = field(default=0, metadata=dict(help="random seed (the same seed gives the same domains)"))
    map_px: int = field(default=900, metadata=dict(least=64, help="longest side of the domain map's H&E, in pixels"))


def _legend(table, k):
    names = []
    for d in range(k):
        genes = table.loc[table["domain"] == d, "gene"].head(LEGEND_GENES).str.replace("$", r"\$", regex=False)
        names.append(f"{d}: " + ", ".join(genes))
    return names


def run(args: Args) -> Domains:
    from ..export.domains import find_domains, top_genes
    from ..figures.domain_map import domain_colours, draw_domain_map
    from ..figures.thumbnail import thumbnail
    out, params, done = start(Domains, args)
    if done:
        return done
    result, rescaled = Result(args.result), Rescaled(args.rescaled)
    check_same_sample(result, rescaled)
    sample, genes, mask = rescaled.sample, result.genes.read(), result.tissue.read()
    if int(mask.sum()) < args.domains:
        raise InputError("--domains", f"{args.domains} domains for {int(mask.sum())} tissue superpixels",
                         "give --domains fewer than the tissue superpixels")
    say(f"domains {sample['name']}: {args.domains} domains of {int(mask.sum())} superpixels x {len(genes)} genes")
    labels, record, norm = find_domains(result, genes, mask, args.domains, args.seed)
    table = top_genes(norm, labels, record["k"], result.skill.read() if result.skill.exists() else None)
    grid = np.full(mask.shape, -1, np.int16)
    grid[mask] = labels
    colours = domain_colours(record["k"])
    rows, cols = tissue_window(mask)
    image = rescaled.image.read(mmap=True)
    crop = image[rows.start * SUPERPIXEL:rows.stop * SUPERPIXEL, cols.start * SUPERPIXEL:cols.stop * SUPERPIXEL]
    with Domains.create(out, params) as folder:
        folder.labels.write(grid)
        folder.top_genes.write(table)
        thumb, factor = thumbnail(crop, crop.shape[:2], args.map_px)
        draw_domain_map(folder.picture, thumb, factor, factor * sample["pixel_size"], grid[rows, cols], colours,
                        _legend(table, record["k"]), f"{sample['name']}: {record['k']} tissue domains")
        folder.record.write({"sample": sample["name"], **record, "colours": colours, "picture": Domains.PICTURE,
                             "method": "PCA of log1p(predictions scaled to the median superpixel total), genes "
                                       "scaled; k-means (k-means++) on the PCs; domain 0 is the largest",
                             "top_genes": "log_fold: mean log-normalised prediction in the domain minus outside it"})
    return Domains(out)
