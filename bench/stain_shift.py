#!/usr/bin/env python3
"""Stain-robustness benchmark (issue #13): predict HER2ST C3 and C4 after fixed stain and scanner shifts.

1. `p2g-run --train C2/ --predict C3/ --predict C4/` trains once on the
   unperturbed C2 and predicts the unperturbed sections;
2. every section is copied once per shift of `bench/shifts.py`'s BENCH_SHIFTS
   (each dye up and down in H&E optical density, exposure, another white
   point, JPEG quality 30; `--random N` adds N seeded mixed shifts) into
   OUTDIR/samples/<section>-<shift>/: the small text files as they are, the
   image written losslessly (PNG), or as a JPEG for the re-compression shift;
3. each copy is predicted with the same model (p2g-run reuses the trained
   model when only a new prediction sample is added) and its intermediates
   are deleted once it is scored (unless --keep-work);
4. each prediction is scored with the referee's `her2st.py score`
   (composition r = pearson_norm_mean, top 100 genes of C2) and compared with
   the unperturbed image's score and with `her2st.py floor` (the colour-ridge
   floor of the unperturbed split).

Writes OUTDIR/<run>/stain-shift.json and stain-shift.md (<run> = stain-<method>,
plus a tag of any extra p2g-run options) and prints the table. Scores are
cached in OUTDIR/<run>/scores/, floors in OUTDIR/floors/, the shifted images in
OUTDIR/samples/ (shared by every run), so a repeated command only does what is
missing.

  python bench/stain_shift.py --outdir /tmp/stain-bench --stain none
  python bench/stain_shift.py --outdir /tmp/stain-bench --stain macenko
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("P2G_SHARED") or REPO.parent / "shared")  # ../shared, as the tests find it
sys.path.insert(0, str(REPO))  # the checkout's library, also when it is not installed

from pixel2gene.image.perturb import random_shift  # noqa: E402
from shifts import BENCH_SHIFTS, shift_image_file, slug  # noqa: E402
from pixel2gene.artifacts.model import Model  # noqa: E402
from pixel2gene.io.sample import IMAGE_SUFFIXES  # noqa: E402
from pixel2gene.runner.layout import Layout  # noqa: E402
from pixel2gene.choices import Stain  # noqa: E402
from pixel2gene.features import DEFAULT_ENCODER  # noqa: E402

TARGET_MEAN_DROP = 0.03  # issue #13


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--outdir", required=True, help="scratch folder for shifted samples, runs and tables")
    ap.add_argument("--stain", default=Stain.NONE.value, choices=Stain.values(),
                    help=f"p2g-run --stain (default: the tools' default, {Stain.NONE})")
    ap.add_argument("--sections", nargs="+", default=["C3", "C4"], help="sections to perturb and predict")
    ap.add_argument("--train", default="C2", help="training section (never perturbed)")
    ap.add_argument("--data", default=str(SHARED / "data" / "her2st"),
                    help="folder with the prepared sections (SECTION/ with truth/ for the predicted ones)")
    ap.add_argument("--scorer", default=str(SHARED / "bench" / "her2st.py"),
                    help="the referee's her2st.py")
    ap.add_argument("--shifts", nargs="+", default=[],
                    help="only these fixed shifts, in this order (folder names, e.g. eosin-x1.3 jpeg-quality-30; "
                         "default: all); a run short of time then still covers several kinds of shift")
    ap.add_argument("--random", type=int, default=0, help="also N mixed shifts drawn with --seed")
    ap.add_argument("--seed", type=int, default=0, help="seed of the --random shifts")
    ap.add_argument("--encoder", default=DEFAULT_ENCODER, help="p2g-run --encoder")
    ap.add_argument("--p2g-args", default="", help="more p2g-run options, one string (e.g. '--epochs 50')")
    ap.add_argument("--keep-work", action="store_true",
                    help="keep each shifted sample's intermediates and maps (about 1-3 GB each)")
    return ap.parse_args(argv)


def shifts(a):
    rng_shifts = [random_shift(np.random.default_rng([a.seed, i]), f"random {a.seed}.{i}")
                  for i in range(a.random)]
    fixed = {slug(s.name): s for s in BENCH_SHIFTS}
    unknown = [n for n in a.shifts if n not in fixed]
    if unknown:
        raise SystemExit(f"error: --shifts {unknown[0]} is not a shift; choose from {' '.join(fixed)}")
    return [fixed[n] for n in a.shifts or fixed] + rng_shifts


def run_name(a) -> str:
    tag = [f"stain-{a.stain}"] + ([a.encoder] if a.encoder != DEFAULT_ENCODER else [])
    return "-".join(tag + ([slug(a.p2g_args)] if a.p2g_args.strip() else []))


def image_of(folder: Path) -> Path:
    for name in IMAGE_SUFFIXES:
        if (folder / name).exists():
            return folder / name
    raise SystemExit(f"error: {folder}: no he-raw image; give --data the folder with the prepared sections")


def shifted_sample(src: Path, dst: Path, shift) -> Path:
    """The section's folder with its image shifted; reused when it was written for the same shift."""
    record = {"source": str(image_of(src)), **asdict(shift)}
    done = dst / "shift.json"
    if done.exists() and json.loads(done.read_text()) == json.loads(json.dumps(record)):
        return dst
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for f in src.iterdir():  # pixel sizes and spot diameter; truth/ stays where it is
        if f.is_file() and not f.name.startswith("he-raw"):
            shutil.copy2(f, dst / f.name)
    shift_image_file(str(image_of(src)), str(dst / ("he-raw.jpg" if shift.jpeg_quality else "he-raw.png")), shift)
    done.write_text(json.dumps(record))
    return dst


def p2g_run(a, run_dir: Path, predict):
    cmd = [sys.executable, str(REPO / "bin" / "p2g-run"), "--train", f"{Path(a.data) / a.train}/",
           *[x for p in predict for x in ("--predict", f"{p}/")], "--outdir", str(run_dir),
           "--stain", a.stain, "--encoder", a.encoder, "--map-top", "0", *a.p2g_args.split()]
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def referee(a, *args) -> dict:
    out = subprocess.run([sys.executable, a.scorer, *map(str, args)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"error: {a.scorer} {args[0]} failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def score(a, pred: Path, section: str) -> dict:
    data, truth = Path(a.data), Path(a.data) / section / "truth"
    res = referee(a, "score", "--pred", pred, "--truth-cnts", truth / "cnts.tsv.gz", "--truth-locs",
                  truth / "locs-raw.tsv", "--pixel-size-raw", data / section / "pixel-size-raw.txt",
                  "--train-cnts", next(p for p in (data / a.train).glob("cnts.*")))
    if "pearson_norm_mean" not in res:
        raise SystemExit(f"error: scoring {pred} gave {res}")
    return res


def floor(a, out: Path, section: str) -> dict:
    cache = out / "floors" / f"{a.train}-{section}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    data, truth = Path(a.data), Path(a.data) / section / "truth"
    res = referee(a, "floor", "--train", f"{data / a.train}/", "--test", f"{data / section}/",
                  "--truth-cnts", truth / "cnts.tsv.gz", "--truth-locs", truth / "locs-raw.tsv")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(res))
    return res


def remove_sample(lay: Layout, name: str) -> None:
    """What this benchmark's p2g-run wrote for one shifted sample: all of it can be recomputed."""
    for p in (lay.work / name, lay.result(name), lay.figures(name), lay.h5ad(name), lay.html(name)):
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def summarise(scores: dict, floors: dict, sections, names) -> dict:
    """scores[(shift name or None, section)] -> composition r; the table and the verdict on issue #13's targets."""
    rows, drops, below = [], [], []
    for name in names:
        row = {"shift": name}
        for s in sections:
            if (name, s) not in scores:  # a run still under way, or stopped: its table says so
                continue
            r = scores[name, s]
            drop = scores[None, s] - r
            row[s] = {"r": round(r, 4), "drop": round(drop, 4), "below_floor": r < floors[s]}
            drops.append(drop)
            if r < floors[s]:
                below.append(f"{name} ({s})")
        if len(row) > 1:
            rows.append(row)
    complete = all((n, s) in scores for n in names for s in sections)
    mean_drop = sum(drops) / len(drops) if drops else 0.0
    return {"unperturbed": {s: round(scores[None, s], 4) for s in sections},
            "floor": {s: round(floors[s], 4) for s in sections}, "shifts": rows,
            "mean_drop": round(mean_drop, 4), "max_drop": round(max(drops, default=0.0), 4),
            "below_floor": below, "complete": complete,
            "meets_targets": complete and mean_drop <= TARGET_MEAN_DROP and not below}


def markdown(summary: dict, sections, title: str) -> str:
    head = "| shift | " + " | ".join(f"{s} r | {s} drop" for s in sections) + " |"
    lines = [f"**{title}** (composition r, top 100 genes; drop = unperturbed r - shifted r)", "", head,
             "| --- |" + " --- | --- |" * len(sections),
             "| none (unperturbed) | " + " | ".join(f"{summary['unperturbed'][s]:.3f} | –" for s in sections) + " |"]
    for row in summary["shifts"]:
        cells = [f"{row[s]['r']:.3f}{' (below floor)' if row[s]['below_floor'] else ''} | {row[s]['drop']:+.3f}"
                 if s in row else "– | –" for s in sections]
        lines.append(f"| {row['shift']} | " + " | ".join(cells) + " |")
    lines.append("| colour-ridge floor | " + " | ".join(f"{summary['floor'][s]:.3f} | –" for s in sections) + " |")
    lines += ["", f"Mean drop {summary['mean_drop']:.3f} (target ≤ {TARGET_MEAN_DROP}), largest "
              f"{summary['max_drop']:.3f}; below the floor: {', '.join(summary['below_floor']) or 'none'}"
              + ("." if summary["complete"] else " (incomplete: rows marked – are not measured yet).")]
    return "\n".join(lines) + "\n"


def main(argv=None):
    a = parse(argv)
    data, out = Path(a.data), Path(a.outdir).resolve()
    for p in [Path(a.scorer), data / a.train] + [data / s / "truth" for s in a.sections]:
        if not p.exists():
            raise SystemExit(f"error: {p} is missing; give --data the prepared HER2ST folder and --scorer her2st.py")
    todo = shifts(a)  # a wrong --shifts fails here, before any work
    run_dir = out / run_name(a)
    lay = Layout(run_dir, a.encoder)
    cache = run_dir / "scores"
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    # the unperturbed sections first, in one run that also trains the model every shifted sample reuses
    # (a repeated call finds every step finished and only checks its stamps)
    p2g_run(a, run_dir, [data / s for s in a.sections])
    model = Model.open(lay.model).digest()

    def scored(name: str, section: str, sample: Path, shift_record: dict) -> float:
        """Composition r of one (shifted) section, predicted and scored unless cached for this shift and model."""
        f = cache / f"{name}.json"
        key = {"shift": shift_record, "model": model}
        if f.exists():
            got = json.loads(f.read_text())
            if got.get("key") == key:
                return got["score"]["pearson_norm_mean"]
        t = time.time()
        if shift_record:  # the unperturbed sections were predicted above
            p2g_run(a, run_dir, [sample])
        res = score(a, lay.result(name), section)
        f.write_text(json.dumps({"key": key, "section": section, "score": res, "seconds": round(time.time() - t, 1)}))
        if shift_record and not a.keep_work:
            remove_sample(lay, name)
        print(f"{name}: composition r {res['pearson_norm_mean']:.4f} ({time.time() - t:.0f} s)", flush=True)
        return res["pearson_norm_mean"]

    def write_tables() -> str:
        summary = summarise(scores, floors, a.sections, [sh.name for sh in todo])
        every = {sh.name for sh in BENCH_SHIFTS} <= {row["shift"] for row in summary["shifts"]
                                                     if all(sec in row for sec in a.sections)}
        summary["meets_targets"] = summary["meets_targets"] and every  # issue #13's targets are on the full set
        summary.update({"run": run_name(a), "stain": a.stain, "encoder": a.encoder, "p2g_args": a.p2g_args,
                        "train": a.train, "command": " ".join(["bench/stain_shift.py"] + list(argv or sys.argv[1:])),
                        "machine": machine(), "seconds_this_call": round(time.time() - t0, 1),
                        "shift_definitions": [asdict(sh) for sh in todo]})
        (run_dir / "stain-shift.json").write_text(json.dumps(summary, indent=1))
        table = markdown(summary, a.sections, f"{a.train} → {', '.join(a.sections)}, {run_name(a)}")
        (run_dir / "stain-shift.md").write_text(table)
        return table

    scores = {(None, s): scored(s, s, data / s, {}) for s in a.sections}
    floors = {s: floor(a, out, s)["pearson_norm_mean"] for s in a.sections}
    for shift in todo:  # shift by shift, so a stopped run still compares every section on the shifts it did
        for s in a.sections:
            sample = shifted_sample(data / s, out / "samples" / f"{s}-{slug(shift.name)}", shift)
            scores[shift.name, s] = scored(sample.name, s, sample, json.loads(json.dumps(asdict(shift))))
            write_tables()
    print(write_tables())
    return 0


def machine() -> str:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu or platform.processor()}, {os.cpu_count()} cores, {platform.system()}"


if __name__ == "__main__":
    sys.exit(main())
