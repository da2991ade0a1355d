"""Write the sample's run report: one HTML file that opens anywhere, with no network."""
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import pandas as pd

from ..errors import InputError
from ..io.outputs import atomic_file, load_npy, read_json
from ..tool.progress import say
from ..tool.reuse import check_file_replaceable
from ..report.page import build_page


@dataclass
class Args:
    result: str = field(metadata=dict(upstream="combine", help="the sample's p2g-combine output"))
    out: str = field(metadata=dict(role="runtime", help="the .html file to write"))
    maps: Optional[str] = field(default=None, metadata=dict(upstream="maps", help="the sample's p2g-maps output"))
    evaluation: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", upstream="evaluate", help="p2g-evaluate outputs for this sample"))
    model: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", upstream="train", help="p2g-train outputs (training curves)"))
    steps: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", help="the steps that made this result (timings): their output directories or step.json files, "
                        "each named after the folder that holds it"))
    params: Optional[str] = field(default=None, metadata=dict(role="file", help="JSON file of the run's parameters"))


def _read_dir(path, marker, tool):
    p = Path(path)
    if not (p / marker).is_file():
        raise InputError(p, f"not a {tool} output ({marker} is missing)", f"give a directory written by {tool}")
    return read_json(p / marker)


def _stamp(path: Path):
    """A step's stamp and the name it is listed under: its directory's, or its own folder's."""
    if not path.is_file():
        # listed as SAMPLE/STEP (work/C2/rescale -> C2/rescale): the samples' steps share folder names
        return _read_dir(path, "step.json", "a p2g step"), "/".join(Path(os.path.abspath(path)).parts[-2:])
    try:
        stamp = read_json(path)
    except (ValueError, UnicodeDecodeError):
        stamp = None
    if not isinstance(stamp, dict) or "step" not in stamp:
        raise InputError(path, "not a p2g step stamp", "give a step's output directory or its step.json")
    return stamp, (path.parent if path.parent.name else path.resolve().parent).name


def _steps(paths):
    rows = []
    for p in paths:
        stamp, output = _stamp(Path(p))
        rows.append({"step": stamp["step"], "output": output, "seconds": stamp.get("seconds", float("nan")),
                     "finished": stamp.get("finished", "")})
    return rows


def run(args: Args) -> Path:
    out, result = Path(args.out), Path(args.result)
    if out.suffix != ".html":
        raise InputError(out, "output is not an .html file", "name the report NAME.html")
    check_file_replaceable(out)
    meta = _read_dir(result, "metadata.json", "p2g-combine")
    meta["n_tissue"] = int(load_npy(result / "mask.npy").sum())
    evaluations = []
    for d in args.evaluation:
        summary = _read_dir(d, "summary.json", "p2g-evaluate")
        evaluations.append((summary, pd.read_csv(Path(d) / "metrics.tsv", sep="\t")))
    if args.maps:
        _read_dir(args.maps, "maps.json", "p2g-maps")
    models = [_read_dir(d, "model.json", "p2g-train") for d in args.model]
    params = {}
    if args.params:
        if not Path(args.params).is_file():
            raise InputError(args.params, "parameters file is missing", "give the run's JSON parameters file")
        params = read_json(args.params)
    page = build_page(sample=meta["sample"], meta=meta, evaluations=evaluations, maps_dir=args.maps,
                      models=models, steps=_steps(args.steps), params=params)
    with atomic_file(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    say(f"report {meta['sample']['name']}: {out} ({len(page) / 1e6:.1f} MB)")
    return out
