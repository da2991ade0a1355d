"""Write the sample's run report: one HTML file that opens anywhere, with no network."""
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from ..artifacts.base import read_stamp
from ..artifacts.domains import Domains
from ..artifacts.evaluation import Evaluation
from ..artifacts.files import ReportFile, RunRecord
from ..artifacts.maps import Maps
from ..artifacts.model import Model
from ..artifacts.result import Result
from ..errors import InputError
from ..io.outputs import read_json
from ..report.page import build_page
from ..tool.options import out_field, upstream_field
from ..tool.progress import say


@dataclass
class Args:
    result: str = upstream_field(Result, "(the sample's results)")
    out: str = out_field("the .html file to write")
    maps: Optional[str] = upstream_field(Maps, "for this sample", default=None)
    evaluation: List[str] = upstream_field(Evaluation, "for this sample", nargs="*")
    model: List[str] = upstream_field(Model, "(training curves)", nargs="*")
    steps: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", help="the steps that made this result (timings): their output directories or step.json files, "
                        "each named after the folder that holds it"))
    params: Optional[str] = field(default=None, metadata=dict(role="file", help="JSON file of the run's parameters"))
    tissue_domains: Optional[str] = upstream_field(Domains, "for this sample (the domain map and top genes)",
                                                   default=None)


def _stamp(path: Path):
    """A step's record and the name it is listed under: its directory's, or its own folder's."""
    if not path.is_file():
        stamp = read_stamp(path)
        if stamp is None:
            raise InputError(path, "not a p2g step's output (step.json is missing)",
                             "give a step's output directory or its step.json")
        # listed as SAMPLE/STEP (work/C2/rescale -> C2/rescale): the samples' steps share folder names
        return stamp, "/".join(Path(os.path.abspath(path)).parts[-2:])
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


def run(args: Args) -> ReportFile:
    out = Path(args.out)
    ReportFile.check_out(out)
    # the records alone: the pipeline stages these small files, not whole step folders
    result = Result(args.result)
    meta = result.record.read()
    meta["n_tissue"] = int(result.tissue.read().sum())
    evaluations = [(e.summary.read(), e.metrics.read()) for e in map(Evaluation, args.evaluation)]
    maps = Maps(args.maps) if args.maps else None
    if maps:
        maps.record.read()
    models = [Model(d).record.read() for d in args.model]
    params = RunRecord(args.params).read() if args.params else {}
    skill = result.skill.read() if result.skill.exists() else None  # the pipeline stages it with metadata.json
    domains = Domains(args.tissue_domains) if args.tissue_domains else None
    page = build_page(sample=meta["sample"], meta=meta, evaluations=evaluations, maps=maps,
                      models=models, steps=_steps(args.steps), params=params, skill=skill,
                      domains=(domains.record.read(), domains.top_genes.read(), domains.picture) if domains else None)
    with ReportFile.writing(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    say(f"report {meta['sample']['name']}: {out} ({len(page) / 1e6:.1f} MB)")
    return ReportFile(out)
