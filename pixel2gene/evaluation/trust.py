"""How far to trust a section's maps, in words: the warnings a run gives, and when.

Three signs, each with a threshold fixed a priori (docs/method.md, "How far to trust the maps"), none
tuned on a score:

- no skill: out of fold, the model's median gene does not track the training bins' composition
  (median composition r below NO_SKILL_R);
- few skilful genes: fewer than FEW_SKILFUL of the genes reach the skilful threshold (training/skill.py);
- unfamiliar tissue: more than UNFAMILIAR of the section's tissue is farther from the training tissue
  than 99 % of held-out training tissue (model/novelty.py).

A warning never stops a run: the maps are still written, with the warning beside them.
"""
from typing import List, Optional

NO_SKILL_R = 0.05     # a median composition r this small is indistinguishable from no skill on a few hundred bins
FEW_SKILFUL = 0.2     # fewer than one gene in five worth a look
UNFAMILIAR = 0.25     # a quarter of the tissue unlike anything the model was trained on


def warnings(skill: Optional[dict], novel_fraction: Optional[float]) -> List[str]:
    """The run's warnings about one section's maps, as sentences for the log, the report and the .h5ad."""
    out = []
    if skill is not None:
        median = skill.get("median_cv_r_composition")
        if median is None or median < NO_SKILL_R:
            out.append(f"the model shows no skill by spatial cross-validation on the training section (median "
                       f"composition r {_shown(median)} over {skill['genes']} genes): treat these maps as "
                       "unvalidated")
        elif skill["skilful_genes"] < FEW_SKILFUL * skill["genes"]:
            out.append(f"only {skill['skilful_genes']} of {skill['genes']} genes reach composition r "
                       f"{skill['skilful_r_threshold']} out of fold on the training section: trust the others' maps "
                       "little (the report and the .h5ad mark them)")
    if novel_fraction is not None and novel_fraction > UNFAMILIAR:
        out.append(f"{100 * novel_fraction:.0f}% of this section's tissue looks unlike the training section: "
                   "there the maps lean on colour, which transfers, and say less (novelty map)")
    return out


def _shown(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"
