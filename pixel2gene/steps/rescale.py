"""Rescale the H&E to the target resolution, validate the sample, scale locations."""
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import __version__
from ..errors import InputError
from ..image.rescale import rescale_image
from ..io.image_reader import ImageReader
from ..io.outputs import write_json
from ..io.sample import locate
from ..io.scalars import read_positive_number
from ..io.tables import match_ids, read_counts, read_locations
from ..pipeline.progress import Progress, say
from ..pipeline.reuse import StepOutput, finished

DEFAULT_PIXEL_SIZE = 0.5


@dataclass
class Args:
    prefix: str = field(metadata=dict(help="sample prefix in the seed layout, e.g. data/C2/ or data/C2-"))
    out: str = field(metadata=dict(help="output directory of this step"))
    train: bool = field(default=False, metadata=dict(help="sample must be measured (counts + locations)"))


def _params(files, args):
    return {"prefix": files.prefix, "train": args.train,
            "inputs": {str(p): [p.stat().st_mtime_ns, p.stat().st_size] for p in
                       (files.image, files.counts, files.locs, files.pixel_size_raw, files.pixel_size, files.radius)
                       if p and p.exists()}}


def run(args: Args) -> Path:
    files = locate(args.prefix, need_counts=args.train)
    out = Path(args.out)
    params = _params(files, args)
    if finished(out, params):
        say(f"rescale {files.name}: reusing {out}")
        return out
    t0 = time.time()
    psize_raw = read_positive_number(files.pixel_size_raw)
    psize = read_positive_number(files.pixel_size) if files.pixel_size.exists() else DEFAULT_PIXEL_SIZE
    diameter_um = read_positive_number(files.radius) if (files.is_measured or files.radius.exists()) else None
    scale = psize_raw / psize
    reader = ImageReader(files.image)
    counts = locs = None
    if files.is_measured:  # validate tables before any output exists
        counts = read_counts(files.counts)
        locs = match_ids(counts, read_locations(files.locs, reader.shape), files.counts, files.locs)
    raw = reader.shape
    if raw[0] * scale < 16 or raw[1] * scale < 16:
        raise InputError(files.pixel_size_raw, f"image {raw[1]}x{raw[0]} px at scale {scale:.3g} is "
                         "smaller than one superpixel", "check pixel-size-raw.txt (µm per raw pixel)")
    say(f"rescale {files.name}: {raw[1]}x{raw[0]} px at {psize_raw:.4g} µm/px -> {psize} µm/px")
    with StepOutput(out, params, "rescale") as tmp:
        shapes = rescale_image(reader, scale, tmp / "image.npy", Progress(f"rescale {files.name}"))
        reader.close()
        if locs is not None:
            scaled = pd.DataFrame({"x": locs.x * scale, "y": locs.y * scale}, index=locs.index)
            scaled.index.name = "id"
            scaled.to_parquet(tmp / "locs.parquet")
        write_json(tmp / "sample.json", {
            "name": files.name, "prefix": files.prefix, "measured": files.is_measured,
            "files": {k: str(v) for k, v in vars(files).items() if isinstance(v, Path)},
            "pixel_size_raw": psize_raw, "pixel_size": psize, "scale": scale,
            "diameter_um": diameter_um,
            "diameter_px": diameter_um / psize if diameter_um else None,
            "n_bins": int(len(counts)) if counts is not None else 0,
            **shapes, "seconds": round(time.time() - t0, 2), "version": __version__,
        })
    return out
