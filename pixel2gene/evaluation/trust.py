"""How far to trust a section's maps, in words: the warnings a run gives, and when.

Four signs, each with a threshold fixed a priori (docs/method.md, "How far to trust the maps"), none
tuned on a score:

- no skill: out of fold, the model's median gene does not track the training bins' composition
  (median composition r below NO_SKILL_R);
- few skilful genes: fewer than FEW_SKILFUL of the genes reach the skilful threshold (training/skill.py);
- unfamiliar tissue: more than UNFAMILIAR of the section's tissue is farther from the training tissue
  than 99 % of held-out training tissue (model/novelty.py);
- a coarse image: he-raw coarser than COARSE_UM per pixel (a Space Ranger lowres or hires image) is upsampled
  to the 0.5 µm/px the encoder reads, and the 8 µm maps look sharper than the detail the image holds.

A warning never stops a run: the maps are still written, with the warning beside them.
"""
from typing import List, Optional

NO_SKILL_R = 0.05     # a median composition r this small is indistinguishable from no skill on a few hundred bins
FEW_SKILFUL = 0.2     # fewer than one gene in five worth a look
UNFAMILIAR = 0.25     # a quarter of the tissue unlike anything the model was trained on
# What the maps are there. The colour ridge, fitted on the training tissue's narrower colours, moves little
# beyond them: it draws novel tissue toward the training tissue's average composition, flattening its contrast
# with the familiar tissue (bench/fallback_contrast.py; docs/benchmarks.md).
UNFAMILIAR_LEANS = ("there the maps lean on the colour ridge, which draws them toward the training tissue's "
                    "average composition: their contrast there says less")
UNFAMILIAR_KEPT = "there the model's deep features are extrapolated (--unfamiliar keep): trust the maps less"
COARSE_UM = 2.0       # µm per pixel of he-raw: four times the 0.5 µm/px the encoders read, a 16-px superpixel
                      # then spans four raw pixels or fewer


def warnings(skill: Optional[dict], novel_fraction: Optional[float], he_um_per_px: Optional[float] = None,
             leans_on_colour: bool = True) -> List[str]:
    """The run's warnings about one section's maps, as sentences for the log, the report and the .h5ad;
    `leans_on_colour`: whether prediction leaned on the colour ridge where tissue is novel (not with
    `--unfamiliar keep`)."""
    out = []
    if he_um_per_px is not None and he_um_per_px > COARSE_UM:
        out.append(f"he-raw is {he_um_per_px:.3g} µm per pixel: the maps carry no detail finer than about "
                   f"{2 * he_um_per_px:.0f} µm (two of its pixels), however sharp they look; give the "
                   "full-resolution H&E (0.25-0.5 µm per pixel) for 8 µm detail")
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
        there = (UNFAMILIAR_LEANS if leans_on_colour else UNFAMILIAR_KEPT)
        out.append(f"{100 * novel_fraction:.0f}% of this section's tissue looks unlike the training section: "
                   f"{there} (novelty map)")
    return out


def _shown(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"
