"""p2g-genes' folder: the genes every model of the run predicts, in order."""
from .base import GENE_NAMES, GeneNames, Json, StepFolder


class Genes(StepFolder):
    STEP = "genes"
    names = GeneNames(GENE_NAMES)
    record = Json("genes.json")   # how many passed the filters, and each chosen gene's total count
