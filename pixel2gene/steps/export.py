"""Write a sample's predictions as an AnnData .h5ad for scanpy and squidpy."""
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..artifacts.domains import Domains
from ..artifacts.files import AnnDataFile
from ..artifacts.rescaled import Rescaled
from ..artifacts.result import Result, check_same_sample
from ..errors import InputError
from ..figures.thumbnail import thumbnail
from ..io.counts import open_counts
from ..io.plausible import check_free_space
from ..tool.progress import Progress, say
from ..tool.options import out_field, upstream_field
from ..tool.stamps import input_stamp


@dataclass
class Args:
    result: str = upstream_field(Result, "(the sample's results)")
    rescaled: str = upstream_field(Rescaled, "for this sample")
    out: str = out_field("the .h5ad file to write")
    counts: Optional[str] = field(default=None, metadata=dict(
        role="file", help="measured counts to join (default: the sample's own, when it was measured)"))
    thumbnail_px: int = field(default=2000, metadata=dict(
        least=0, help="longest side of the H&E image stored for scanpy.pl.spatial (0: none)"))
    tissue_domains: Optional[str] = upstream_field(Domains, "for this sample (adds obs['domain'])", default=None)


def _domains(args: Args, mask):
    """(each tissue superpixel's domain, the domains' colours), or None when no domains were given."""
    if not args.tissue_domains:
        return None
    domains = Domains(args.tissue_domains)
    grid = domains.labels.read()
    if grid.shape != mask.shape or ((grid >= 0) != mask).any():
        raise InputError(domains.path, "domains were made on another tissue mask than this result's",
                         "give --tissue-domains the p2g-domains output of this same result")
    return grid[mask], domains.record.read()["colours"]


def _measured(args: Args, rescaled: Rescaled, genes):
    """(sparse counts: measured bins x the predicted genes they measure, bin ids, those genes, the bins'
    rescaled x/y, their diameter in rescaled pixels), or None for an unmeasured sample."""
    sample = rescaled.sample
    path = args.counts or (sample["files"].get("counts") if sample["measured"] else None)
    if not path:
        return None
    if not rescaled.locs.exists():
        raise InputError(rescaled.path, "no bin locations for the measured counts",
                         "run p2g-rescale with --train for a measured sample")
    if not Path(path).is_file():
        raise InputError(path, "measured counts are missing", "give the counts table with --counts")
    locs = rescaled.locs.read()
    with open_counts(path) as counts:
        ids = locs.index.intersection(counts.ids, sort=False)
        measured = set(counts.genes)
        have = [g for g in genes if g in measured]
        values, _ = counts.take(ids, have)  # only the predicted genes, sparse
    return values, ids, have, locs.loc[ids, ["x", "y"]].to_numpy(), sample["diameter_px"]


def run(args: Args) -> AnnDataFile:
    from ..export.anndata import sample_uns, write_h5ad  # anndata is imported only by the steps that need it
    out = Path(args.out)
    AnnDataFile.check_out(out)
    input_stamp(args)  # not reused (one file), but its inputs are checked the same way
    t0 = time.time()
    rescaled, result = Rescaled(args.rescaled), Result(args.result)
    sample, meta = rescaled.sample, check_same_sample(result, rescaled)
    genes = result.genes.read()
    mask = result.tissue.read()
    thumb, factor = (None, 1)
    if args.thumbnail_px > 0:
        thumb, factor = thumbnail(rescaled.image.read(mmap=True), sample["shape"], args.thumbnail_px,
                                  min_factor=math.ceil(sample["scale"]))  # never finer than he-raw itself
    measured = _measured(args, rescaled, genes)
    domains = _domains(args, mask)
    check_free_space(out.parent, int(mask.sum()) * len(genes) * 4 + (0 if thumb is None else thumb.nbytes),
                     "the .h5ad")
    say(f"export {sample['name']}: {int(mask.sum())} superpixels x {len(genes)} genes -> {out}"
        + (" (with measured counts)" if measured else ""))
    with AnnDataFile.writing(out) as tmp:
        write_h5ad(tmp, result, genes, mask, sample["scale"], sample_uns(sample, meta), thumb, factor, measured,
                   Progress(f"export {sample['name']}"), domains)
    say(f"export {sample['name']}: done in {time.time() - t0:.0f} s")
    return AnnDataFile(out)
