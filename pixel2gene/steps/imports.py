"""p2g-import: a 10x Visium / Visium HD / Xenium output as a sample folder in the seed layout."""
from dataclasses import dataclass, field
from pathlib import Path

from ..importers.prefix import Imported, out_folder, write_prefix
from ..importers.visium import import_visium, visium_files
from ..importers.visium_hd import import_visium_hd, visium_hd_files
from ..importers.xenium import import_xenium, xenium_files
from ..tool.progress import say

OUT_HELP = "sample folder to write (cnts.h5ad, locs-raw.parquet, he-raw link, ...): the prefix for p2g-run --train"
IMAGE_HELP = ("the full-resolution H&E given to Space Ranger (a path), or hires / lowres for the image in "
              "spatial/ (coarse)")
LIST_HELP = ("print the files and folders of OUTS that this import reads (one a line, relative to OUTS) and "
             "import nothing: a copy of OUTS with only these imports the same (the pipeline stages only these)")


@dataclass
class VisiumArgs:
    outs: str = field(metadata=dict(args=["outs"], help="Space Ranger output folder (outs/, or the folder above it)"))
    image: str = field(metadata=dict(help=IMAGE_HELP))
    out: str = field(metadata=dict(help=OUT_HELP))
    list_inputs: bool = field(default=False, metadata=dict(help=LIST_HELP))


@dataclass
class VisiumHDArgs:
    outs: str = field(metadata=dict(args=["outs"], help="Space Ranger output folder holding binned_outputs/"))
    image: str = field(metadata=dict(help=IMAGE_HELP))
    out: str = field(metadata=dict(help=OUT_HELP))
    bin_size: int = field(default=8, metadata=dict(help="bin size in µm: binned_outputs/square_NNNum/"))
    list_inputs: bool = field(default=False, metadata=dict(help=LIST_HELP))


@dataclass
class XeniumArgs:
    outs: str = field(metadata=dict(args=["outs"], help="Xenium output folder (experiment.xenium, cells.parquet, "
                                                        "cell_feature_matrix.h5)"))
    he_image: str = field(metadata=dict(help="the H&E image of the same section (e.g. *_he_image.ome.tif)"))
    alignment: str = field(metadata=dict(help="*_he_imagealignment.csv: the 3x3 matrix from H&E pixels to "
                                              "morphology pixels (Xenium Explorer exports it)"))
    out: str = field(metadata=dict(help=OUT_HELP))
    list_inputs: bool = field(default=False, metadata=dict(help=LIST_HELP))


def _write(args, make) -> Path:
    out_folder(args.out)  # refuse a folder we may not replace before any work
    imp: Imported = make()
    unit = {"visium": "spots", "visium-hd": "bins", "xenium": "cells"}[imp.vendor]
    say(f"import {imp.vendor}: {len(imp.ids)} {unit} x "
        f"{len(imp.genes)} genes, {imp.pixel_size_raw:.4g} µm/px, diameter {imp.diameter_um:.3g} µm -> {args.out}")
    return write_prefix(args.out, imp)


def list_inputs(outs, files) -> None:
    """What the importer's own file finder found, so the list is what an import reads."""
    for name in sorted(p.relative_to(Path(outs)).as_posix() for p in files.inputs()):
        print(name)


def run_visium(args: VisiumArgs):
    if args.list_inputs:
        return list_inputs(args.outs, visium_files(args.outs, args.image))
    return _write(args, lambda: import_visium(args.outs, args.image))


def run_visium_hd(args: VisiumHDArgs):
    if args.list_inputs:
        return list_inputs(args.outs, visium_hd_files(args.outs, args.image, args.bin_size))
    return _write(args, lambda: import_visium_hd(args.outs, args.image, args.bin_size))


def run_xenium(args: XeniumArgs):
    if args.list_inputs:
        return list_inputs(args.outs, xenium_files(args.outs))
    return _write(args, lambda: import_xenium(args.outs, args.he_image, args.alignment))


COMMANDS = {
    "visium": (VisiumArgs, run_visium, "Import a Visium (Space Ranger 1.x/2.x+) output."),
    "visium-hd": (VisiumHDArgs, run_visium_hd, "Import one bin size of a Visium HD output."),
    "xenium": (XeniumArgs, run_xenium, "Import a Xenium output with its aligned H&E."),
}
