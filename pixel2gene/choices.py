"""The choices a setting can take, each declared once: the steps' options, the runner's and the library's code
compare against these. A choice is its text (a str), so stamps, records and --help hold plain strings."""
from enum import Enum


class Choice(str, Enum):
    def __str__(self) -> str:
        return self.value

    @classmethod
    def values(cls) -> list:
        return [c.value for c in cls]


class Select(Choice):
    """The fold models' form: chosen by spatial CV on the training bins, or fixed."""
    AUTO = "auto"
    MLP = "mlp"
    RIDGE = "ridge"


class BinQC(Choice):
    """Dropping low-count bins per histology cluster: on for bins and cells up to 16 µm, or forced."""
    AUTO = "auto"
    ON = "on"
    OFF = "off"


class Standardise(Choice):
    """Whose feature statistics a predicted section is standardised with."""
    SECTION = "section"    # its own (the method): absorbs a section-wide stain or scanner shift
    TRAINING = "training"  # the training sets', kept in the model


class Stain(Choice):
    """Stain normalisation of every slide before the encoder."""
    NONE = "none"
    MACENKO = "macenko"    # re-expressed with one fixed reference H&E (image/stain.py)


class Unfamiliar(Choice):
    """What prediction does where a superpixel's tissue is unlike the training tissue (model/novelty.py)."""
    # lean on the colour ridge: a shrinkage toward the training tissue's composition, for tissue where the deep
    # features' extrapolation may point the wrong way (docs/method.md, "Unfamiliar tissue")
    COLOUR = "colour"
    KEEP = "keep"        # the model alone, everywhere
