"""Gene selection: drop control probes and rare genes, order by total count."""
from typing import Iterable, List, Optional

import pandas as pd

CONTROL_PREFIXES = ("BLANK", "NegControlCodeword", "NegControlProbe", "UnassignedCodeword",
                    "DeprecatedCodeword")


def is_control(name: str) -> bool:
    return name.startswith(CONTROL_PREFIXES)


def rank_genes(totals: Iterable[pd.Series], min_total: float) -> pd.Series:
    """Total count per gene over all samples, for genes measured in every sample."""
    totals = list(totals)
    common = set(totals[0].index)
    for t in totals[1:]:
        common &= set(t.index)
    total = sum(t.reindex(sorted(common)) for t in totals)
    total = total[[g for g in total.index if not is_control(g)]]
    total = total[total > min_total]
    # stable order: by count, then by name, so ties never depend on file order
    return total.sort_index().sort_values(ascending=False, kind="stable")


def select_genes(ranked: pd.Series, n_genes: int, requested: Optional[List[str]] = None) -> List[str]:
    if requested:
        return [g for g in requested if g in ranked.index]
    return list(ranked.index[:n_genes])
