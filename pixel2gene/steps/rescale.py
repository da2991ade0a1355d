"""Rescale the H&E to the target resolution, validate the sample, scale locations."""
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pandas as pd

from .. import __version__
from ..image.rescale import padded_size, rescale_image, rescaled_size
from ..artifacts.rescaled import Rescaled
from ..io.counts import open_counts
from ..io.image_reader import ImageReader
from ..io.plausible import check_diameter, check_free_space, check_pixel_sizes
from ..io.sample import check_sample_name, locate
from ..io.scalars import read_positive_number
from ..io.slides import pick_level, raw_pixel_size
from ..io.tables import match_ids, read_locations
from ..tool.allocator import keep_big_allocations
from ..tool.progress import Progress, say
from ..tool.options import out_field, threads_field
from ..tool.stamps import start

DEFAULT_PIXEL_SIZE = 0.5


@dataclass
class Args:
    prefix: str = field(metadata=dict(role="sample",
                                      help="sample prefix in the seed layout, e.g. data/C2/ or data/C2-"))
    out: str = out_field()
    measured: bool = field(default=False, metadata=dict(
        renamed_from="--train", help="the sample must be measured (counts + locations): a training sample"))
    threads: int = threads_field("CPU threads for resampling")
    name: Optional[str] = field(default=None, metadata=dict(
        help="the sample's name in results (default: the prefix's last part, e.g. C2 for data/C2/)"))


def run(args: Args) -> Rescaled:
    files = locate(args.prefix, need_counts=args.measured)
    if args.name is not None:
        check_sample_name(args.name, "--name", fix="give --name a plain folder name (no '/', no leading '.' or spaces)")
        files = dataclasses.replace(files, name=args.name)
    out, params, done = start(Rescaled, args)
    if done:
        return done
    t0 = time.time()
    reader = ImageReader(files.image)
    psize_raw, psize_raw_from = raw_pixel_size(files.pixel_size_raw, reader.pixel_size, files.image)
    if psize_raw_from != files.pixel_size_raw.name:
        say(f"rescale {files.name}: no {files.pixel_size_raw.name}; {psize_raw:.4g} µm/px from {psize_raw_from}")
    psize = read_positive_number(files.pixel_size) if files.pixel_size.exists() else DEFAULT_PIXEL_SIZE
    diameter_um = read_positive_number(files.radius) if (files.is_measured or files.radius.exists()) else None
    scale = psize_raw / psize
    locs = None
    if files.is_measured:  # validate counts and locations before any output exists
        with open_counts(files.counts) as counts:
            counts.validate()
            ids = counts.ids
        locs = match_ids(ids, read_locations(files.locs, reader.shape), files.counts, files.locs)
    raw = reader.shape
    check_pixel_sizes(raw, psize_raw, psize, files.pixel_size_raw if files.pixel_size_raw.exists() else files.image,
                      files.pixel_size)
    if diameter_um is not None:
        check_diameter(diameter_um, files.radius)
    level = pick_level(reader.levels, rescaled_size(raw, scale))
    padded = padded_size(rescaled_size(raw, scale))
    check_free_space(out.parent, padded[0] * padded[1] * 3, "the rescaled image")
    via = f" (read from pyramid level {level}: {reader.levels[level][1]}x{reader.levels[level][0]} px)" if level else ""
    say(f"rescale {files.name}: {raw[1]}x{raw[0]} px at {psize_raw:.4g} µm/px -> {psize} µm/px{via}")
    files_in = params["files"]["prefix"]
    image_part = [params["version"], files_in["image"], files_in["pixel_size_raw"], files_in["pixel_size"]]
    keep_big_allocations()  # strips' work arrays: reuse freed blocks, no page faults
    with Rescaled.create(out, params, parts={"image": image_part}) as folder:
        shapes = rescale_image(reader, scale, folder.image.path, Progress(f"rescale {files.name}"),
                               threads=args.threads, level=level)
        reader.close()
        if locs is not None:
            scaled = pd.DataFrame({"x": locs.x * scale, "y": locs.y * scale}, index=locs.index)
            scaled.index.name = "id"
            folder.locs.write(scaled)
        folder.record.write({
            "name": files.name, "prefix": files.prefix, "measured": files.is_measured,
            "files": {k: str(v) for k, v in vars(files).items() if isinstance(v, Path)},
            "pixel_size_raw": psize_raw, "pixel_size_raw_from": psize_raw_from, "pixel_size": psize, "scale": scale,
            "diameter_um": diameter_um,
            "diameter_px": diameter_um / psize if diameter_um else None,
            "n_bins": int(len(locs)) if locs is not None else 0,
            **shapes, "seconds": round(time.time() - t0, 2), "version": __version__,
        })
    return Rescaled(out)
