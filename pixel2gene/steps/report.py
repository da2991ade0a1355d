"""Write the sample's run report: one HTML file that opens anywhere, with no network."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import pandas as pd

from ..errors import InputError
from ..io.outputs import atomic_file, load_npy, read_json
from ..pipeline.progress import say
from ..report.page import build_page


@dataclass
class Args:
    result: str = field(metadata=dict(help="the sample's p2g-combine output"))
    out: str = field(metadata=dict(help="the .html file to write"))
    maps: Optional[str] = field(default=None, metadata=dict(help="the sample's p2g-maps output"))
    evaluation: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", help="p2g-evaluate outputs for this sample"))
    model: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", help="p2g-train outputs (training curves)"))
    steps: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", help="output directories of the steps that made this result (timings)"))
    params: Optional[str] = field(default=None, metadata=dict(help="JSON file of the run's parameters"))


def _read_dir(path, marker, tool):
    p = Path(path)
    if not (p / marker).is_file():
        raise InputError(p, f"not a {tool} output ({marker} is missing)", f"give a directory written by {tool}")
    return read_json(p / marker)


def _steps(dirs):
    rows = []
    for d in dirs:
        stamp = _read_dir(d, "step.json", "a p2g step")
        rows.append({"step": stamp["step"], "output": Path(d).name, "seconds": stamp.get("seconds", float("nan")),
                     "finished": stamp.get("finished", "")})
    return rows


def run(args: Args) -> Path:
    out, result = Path(args.out), Path(args.result)
    if out.suffix != ".html":
        raise InputError(out, "output is not an .html file", "name the report NAME.html")
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
