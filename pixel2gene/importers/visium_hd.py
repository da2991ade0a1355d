"""Visium HD: square bins of one size from binned_outputs/square_NNNum/.

The scale factors carry µm per full-resolution pixel (`microns_per_pixel`)
and the bin size (`bin_size_um`), which is the diameter we record.
"""
from pathlib import Path

from ..errors import InputError
from .spaceranger import (SCALEF, SpotFiles, downscaled_image, import_spots, locate_spots, outs_folder,
                          read_scalefactors)


def bin_folder(folder: Path, bin_size: int) -> Path:
    binned = folder / "binned_outputs"
    if not binned.is_dir():
        raise InputError(binned, "binned_outputs/ is missing: this is not a Visium HD output",
                         "give the Visium HD outs/ folder (for standard Visium use p2g-import visium)")
    sizes = sorted(p.name for p in binned.glob("square_*um") if p.is_dir())
    path = binned / f"square_{bin_size:03d}um"
    if not path.is_dir():
        example = int(sizes[0][len("square_"):-len("um")]) if sizes else 8
        raise InputError(path, f"no {bin_size} µm bins (found: {', '.join(sizes) or 'none'})",
                         f"give --bin-size with one of the sizes present, e.g. --bin-size {example}")
    return path


def hd_image_folder(folder: Path, spatial: Path, image: str) -> Path:
    """Where the hires/lowres images are read: beside the bin size's positions when the chosen one is there,
    else in outs/spatial/ (Space Ranger writes the same images in both)."""
    if image in SCALEF and downscaled_image(spatial, image).is_file():
        return spatial
    return folder / "spatial" if (folder / "spatial").is_dir() else spatial


def visium_hd_files(outs, image: str, bin_size: int = 8) -> SpotFiles:
    if bin_size < 1:
        raise InputError("--bin-size", f"{bin_size} µm", "give the bin size in µm, e.g. 8")
    folder = outs_folder(outs)
    bins = bin_folder(folder, bin_size)
    spatial = bins / "spatial"
    if not spatial.is_dir():
        raise InputError(spatial, "spatial/ folder is missing", f"give the Visium HD outs/ folder with {bins.name}/spatial/")
    return locate_spots(bins, spatial, image, hd_image_folder(folder, spatial, image))


def import_visium_hd(outs, image: str, bin_size: int = 8):
    files = visium_hd_files(outs, image, bin_size)
    factors = read_scalefactors(files.scalefactors, ["microns_per_pixel", "bin_size_um"])
    if abs(factors["bin_size_um"] - bin_size) > 1e-6:
        raise InputError(files.scalefactors, f"bin_size_um is {factors['bin_size_um']:g}, not {bin_size}",
                         f"use the scalefactors_json.json of {files.folder.name}")
    derivation = f"microns_per_pixel ({factors['microns_per_pixel']:.6g})"
    return import_spots("visium-hd", files, image, float(factors["bin_size_um"]),
                        float(factors["microns_per_pixel"]), derivation, factors)
