"""Tissue mask on the superpixel grid (detected, or the user's own)."""
import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..artifacts.mask import Mask
from ..artifacts.rescaled import Rescaled
from ..errors import InputError
from ..image import SUPERPIXEL
from ..image.superpixels import superpixel_colour
from ..image.tissue_mask import SPECK_DISTANCE_UM, SPECK_SHARE, detect_tissue, drop_far_specks, load_user_mask
from ..tool.progress import say
from ..tool.options import out_field, threads_field, upstream_field
from ..tool.stamps import start


@dataclass
class Args:
    rescaled: str = upstream_field(Rescaled, part="image")
    out: str = out_field()
    mask_file: Optional[str] = field(default=None, metadata=dict(
        role="file", renamed_from="--mask",
        help="your own tissue mask (.png/.tif/.npy, nonzero = tissue) at image or grid size"))
    pale_tissue: bool = field(default=True, metadata=dict(
        help="detected mask: also keep pale tissue (loose stroma, fat) touching clearly stained tissue; "
             "--no-pale-tissue keeps only clearly stained tissue (ignored with --mask-file)"))
    threads: int = threads_field("CPU threads")


def run(args: Args) -> Mask:
    out, params, done = start(Mask, args)
    if done:
        return done
    rescaled = Rescaled(args.rescaled)
    sample = rescaled.sample
    rgb, texture = superpixel_colour(rescaled.image.read(mmap=True), args.threads)
    content = [math.ceil(s / SUPERPIXEL) for s in sample["shape"]]
    if args.mask_file:
        tissue = load_user_mask(args.mask_file, rgb.shape[:2], content)
        source, specks = "user", 0
    else:
        tissue = detect_tissue(rgb, texture, pale=args.pale_tissue, superpixel_um=SUPERPIXEL * sample["pixel_size"])
        source = "detected"
        if not tissue.any():
            raise InputError(sample["files"]["image"], "no tissue found in the image",
                             "check the image is an H&E, or give your own mask with --mask-file")
        tissue, specks = drop_far_specks(tissue, SUPERPIXEL * sample["pixel_size"])
        if specks:
            say(f"mask {sample['name']}: dropped {specks} speck(s) of tissue far from the section (under "
                f"{100 * SPECK_SHARE:g} % of its largest piece, over {SPECK_DISTANCE_UM:g} µm away); --mask-file "
                "gives your own mask instead")
    frac = float(tissue.mean())
    say(f"mask {sample['name']}: {int(tissue.sum())} tissue superpixels ({100 * frac:.1f}% of the grid, {source})")
    with Mask.create(out, params) as folder:
        folder.tissue.write(tissue)
        folder.rgb.write(rgb, np.float16)
        folder.write_overlay(rgb, tissue)
        folder.record.write({"source": source, "pale_tissue": args.pale_tissue, "n_tissue": int(tissue.sum()),
                             "grid_shape": list(tissue.shape), "fraction": frac, "specks_dropped": specks})
    return Mask(out)
