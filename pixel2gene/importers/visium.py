"""Visium (Space Ranger 1.x and 2.x+): 55 µm spots on a 100 µm pitch.

µm per full-resolution pixel = 55 / spot_diameter_fullres (the spots'
physical size over their size in pixels, both from Space Ranger).
"""
from ..errors import InputError
from .spaceranger import SpotFiles, import_spots, locate_spots, outs_folder, read_scalefactors, spatial_folder

SPOT_DIAMETER_UM = 55.0


def visium_files(outs, image: str) -> SpotFiles:
    folder = outs_folder(outs)
    if (folder / "binned_outputs").is_dir():  # Visium HD's outs/ has a spatial/ too, without spot positions
        raise InputError(folder, "holds binned_outputs/: this looks like a Visium HD output",
                         "use p2g-import visium-hd")
    spatial = spatial_folder(folder)
    return locate_spots(folder, spatial, image, spatial)


def import_visium(outs, image: str):
    files = visium_files(outs, image)
    factors = read_scalefactors(files.scalefactors, ["spot_diameter_fullres"])
    um_per_fullres = SPOT_DIAMETER_UM / factors["spot_diameter_fullres"]
    derivation = f"55 µm / spot_diameter_fullres ({factors['spot_diameter_fullres']:.6g} px)"
    return import_spots("visium", files, image, SPOT_DIAMETER_UM, um_per_fullres, derivation, factors)
