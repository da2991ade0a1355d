"""Pick the genes to predict from the training samples' counts."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from ..artifacts.genes import Genes
from ..errors import InputError
from ..genes.names import check_gene_names
from ..genes.select import rank_genes, select_genes
from ..io.counts import open_counts
from ..tool.progress import say
from ..tool.options import out_field
from ..tool.stamps import start


DEFAULT_MIN_COUNT = 10.0


@dataclass
class Args:
    counts: List[str] = field(metadata=dict(nargs="+", role="file", help="counts tables of all training samples"))
    out: str = out_field()
    n_genes: int = field(default=1000, metadata=dict(least=1, help="predict the N genes with the highest total count"))
    min_count: float = field(default=DEFAULT_MIN_COUNT, metadata=dict(
        help="drop genes whose total count is not above this"))
    gene_list: Optional[str] = field(default=None, metadata=dict(
        role="file", help="text file with one gene per line to predict instead of the top N"))


def read_gene_list(path) -> List[str]:
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "gene list is missing", "give a text file with one gene name per line")
    genes = [line.strip() for line in p.read_text().splitlines() if line.strip() and not line.startswith("#")]
    if not genes:
        raise InputError(p, "gene list is empty", "write one gene name per line")
    return list(dict.fromkeys(genes))


def _gene_totals(path):
    with open_counts(path) as counts:  # streamed: a sparse file is never densified
        totals = counts.gene_totals()
    check_gene_names(totals.index, path)
    return totals


def run(args: Args) -> Genes:
    out, params, done = start(Genes, args)
    if done:
        return done
    ranked = rank_genes((_gene_totals(c) for c in args.counts), args.min_count)
    requested = read_gene_list(args.gene_list) if args.gene_list else None
    genes = select_genes(ranked, args.n_genes, requested)
    if requested and len(genes) < len(requested):
        missing = [g for g in requested if g not in genes]
        say(f"genes: {len(missing)} listed genes are not measured (or too rare) in every "
            f"training sample, skipped: {', '.join(missing[:5])}")
    if not genes:
        raise InputError(args.gene_list or args.counts[0], "no gene passes the filters",
                         "lower --min-count or check the gene names")
    with Genes.create(out, params) as folder:
        folder.names.write(genes)
        folder.record.write({"n_genes": len(genes), "n_candidates": int(len(ranked)),
                             "total_counts": {g: float(ranked[g]) for g in genes}})
    say(f"genes: {len(genes)} selected of {len(ranked)} passing the filters")
    return Genes(out)
