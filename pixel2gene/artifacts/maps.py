"""p2g-maps' folder: the overview and gene maps over the H&E, as PNGs, and what each shows."""
from .base import Json, StepFolder


class Maps(StepFolder):
    STEP = "maps"
    OVERVIEW = "overview.png"
    GENES = "genes"                  # genes/STEM.png, one per drawn gene
    record = Json("maps.json")       # the overview, each gene's file and colour range, units, window

    def gene_png(self, stem: str) -> str:
        """A gene map's path inside the folder, as maps.json records it."""
        return f"{self.GENES}/{stem}.png"
