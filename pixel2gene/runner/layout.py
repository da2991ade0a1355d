"""Where p2g-run puts every output, and the checks made before it writes any.

OUTDIR/<sample>/ (results), <sample>.h5ad, <sample>.html, figures/<sample>/,
domains/<sample>/ (unless --domains 0), cells/<sample>/ (with --cells), <sample>.zarr (with --spatialdata),
evaluation/<sample>.held-out|truth/, run.json, and work/ for intermediates:
work/<sample>/{rescale,mask,features-ENCODER,folds,pred}, work/genes, work/trained (the fold MLPs),
work/model (the model in the form chosen by CV); with --augment N also
work/<training sample>/{features-ENCODER-augK,folds-augK} for K = 1..N.
"""
import os
import shutil
from pathlib import Path

from ..artifacts.base import check_replaceable, read_stamp
from ..artifacts.files import AnnDataFile, ReportFile, RunRecord, SpatialDataStore, check_file_replaceable
from ..errors import InputError
from ..io.sample import check_sample_name

# names of OUTDIR's and OUTDIR/work's own entries (and the Nextflow pipeline's), which no sample may take
RESERVED = frozenset({"work", "figures", "evaluation", "genes", "trained", "model", "qc", "pipeline_info",
                      "domains", "cells", RunRecord.NAME})


class Layout:
    def __init__(self, outdir, encoder: str, augment: int = 0, domains: bool = False, segmentations=(),
                 spatialdata: bool = False):
        self.outdir = Path(outdir)
        self.with_spatialdata = spatialdata     # p2g-spatialdata runs for each predicted sample
        self.with_domains = domains              # p2g-domains runs for each predicted sample
        self.segmented = set(segmentations)      # the predicted samples p2g-cells runs for
        self.augment = augment  # colour-augmented copies of each training sample
        self.work = self.outdir / "work"
        self.encoder = encoder
        self.genes = self.work / "genes"
        self.trained = self.work / "trained"
        self.model = self.work / "model"
        self.run_json = self.outdir / RunRecord.NAME

    def rescale(self, name):
        return self.work / name / "rescale"

    def mask(self, name):
        return self.work / name / "mask"

    def features(self, name, copy: int = 0):
        return self.work / name / (f"features-{self.encoder}" + (f"-aug{copy}" if copy else ""))

    def folds(self, name, copy: int = 0):
        return self.work / name / ("folds" + (f"-aug{copy}" if copy else ""))

    def copies(self):
        """0 (the sample itself) and 1..augment (its colour-augmented training copies)."""
        return range(self.augment + 1)

    def pred(self, name):
        return self.work / name / "pred"

    def result(self, name):
        return self.outdir / name

    def figures(self, name):
        return self.outdir / "figures" / name

    def domains(self, name):
        return self.outdir / "domains" / name

    def cells(self, name):
        return self.outdir / "cells" / name

    def evaluation(self, name, kind):
        return self.outdir / "evaluation" / f"{name}.{kind}"

    def h5ad(self, name):
        return self.outdir / f"{name}{AnnDataFile.SUFFIX}"

    def zarr(self, name):
        return self.outdir / f"{name}{SpatialDataStore.SUFFIX}"

    def html(self, name):
        return self.outdir / f"{name}{ReportFile.SUFFIX}"

    def planned(self, every, trains, preds, truths):
        """(path, step) of every folder a run writes; step None for single files."""
        out = [(self.genes, "genes"), (self.trained, "train"), (self.model, "select"), (self.run_json, None)]
        for name in every:
            out += [(self.rescale(name), "rescale"), (self.mask(name), "mask"), (self.features(name), "features")]
        for name in trains:
            out += [(self.features(name, k), "features") for k in self.copies()[1:]]
            out += [(self.folds(name, k), "folds") for k in self.copies()]
        for name in preds:
            out += [(self.pred(name), "predict"), (self.result(name), "combine"), (self.figures(name), "maps"),
                    (self.h5ad(name), None), (self.html(name), None)]
            if self.with_domains:
                out.append((self.domains(name), "domains"))
            if name in self.segmented:
                out.append((self.cells(name), "cells"))
            if self.with_spatialdata:
                out.append((self.zarr(name), None))
            if name in trains:
                out.append((self.evaluation(name, "held-out"), "evaluate"))
            if name in truths:
                out.append((self.evaluation(name, "truth"), "evaluate"))
        return out


def check_outdir(layout: Layout, inputs, every, trains, preds, truths) -> None:
    """Refuse, before anything is written, a run that could replace anything but its own earlier outputs."""
    outdir = Path(os.path.abspath(layout.outdir))
    if layout.outdir.exists() and not layout.outdir.is_dir():
        raise InputError(layout.outdir, "is a file, not a folder",
                         "give --outdir a folder (new, or one from an earlier run)")
    for path in inputs:
        p = Path(os.path.abspath(path))
        if outdir == p or outdir in p.parents:
            raise InputError(layout.outdir, f"holds the input {path}; results would mix with (and could replace) "
                             "your data", "give --outdir a folder outside your input folders, e.g. --outdir results")
    _check_writable(layout.outdir)
    for name in every:
        check_sample_name(name, every[name].prefix, RESERVED)
    seen = {}
    for path, step in layout.planned(every, trains, preds, truths):
        key = os.path.normcase(os.path.abspath(path))
        if key in seen:
            raise InputError(path, "two outputs of this run would share this path",
                             "rename a sample folder so that no sample name is another's plus .h5ad/.html/.zarr")
        seen[key] = path
        if step is None:
            check_file_replaceable(path, "--outdir")
        else:
            check_replaceable(path, step, "--outdir")
    try:
        layout.outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(layout.outdir, f"cannot be created ({exc.strerror})",
                         "give --outdir a folder you can write to") from None


def _check_writable(outdir: Path) -> None:
    existing = Path(os.path.abspath(outdir))
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(existing, "cannot be written to", "give --outdir a folder you can write to")


def remove_work(layout: Layout, every, trains, preds, truths) -> int:
    """Delete this run's step folders under work/ (only those holding a step.json); returns the bytes freed."""
    freed = 0
    for path, step in layout.planned(every, trains, preds, truths):
        if step is None or layout.work not in path.parents or read_stamp(path) is None:
            continue
        freed += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        shutil.rmtree(path)
    for folder in sorted({p.parent for p, _ in layout.planned(every, trains, preds, truths)}, reverse=True):
        if folder != layout.outdir and layout.work in (folder, *folder.parents) and folder.is_dir() \
                and not any(folder.iterdir()):
            folder.rmdir()  # empty per-sample folders, then work/ itself; anything else a user put there stays
    if layout.work.is_dir() and not any(layout.work.iterdir()):
        layout.work.rmdir()
    return freed
