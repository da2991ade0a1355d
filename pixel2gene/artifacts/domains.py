"""p2g-domains' folder: tissue domains (clusters of the predicted expression) of one section.

    domains.npy     int16 superpixel grid: the domain of each tissue superpixel, -1 off tissue
    top-genes.tsv   per domain, its genes ranked by how much higher they are inside than outside
    domains.png     the domains over the H&E
    domains.json    k, seed, PCA, each domain's size and colour, the table's units
"""
from .base import Json, Npy, StepFolder, Tsv


class Domains(StepFolder):
    STEP = "domains"
    labels = Npy("domains.npy")
    top_genes = Tsv("top-genes.tsv")
    PICTURE = "domains.png"          # drawn by matplotlib (figures/domain_map.py) at this path
    record = Json("domains.json")

    @property
    def picture(self):
        return self.file(self.PICTURE)
