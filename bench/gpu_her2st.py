#!/usr/bin/env python3
"""The GPU benchmark of issue #16 in one call: HER2ST C2 -> C3 + C4 with default settings, then the feature step alone.

1. `p2g-run --train C2/ --predict C3/ --predict C4/` (default settings, the
   same command as bench/her2st.sh's CPU run, so the two compare) under
   /usr/bin/time -v; every stderr line is time-stamped, so each step's start
   and end are known;
2. C3 and C4 are scored with the referee's her2st.py (composition r =
   pearson_norm_mean), right after the run, so a later cut-off keeps them;
3. the feature step alone on C2, reusing that run's rescale and mask: the
   default encoder twice (cold: CUDA start, weights; warm);
4. if the budget still holds a whole run, `p2g-run` again into a second
   folder: are the GPU's predictions the same for the same seed?
   then hipt --shift-average --random-init, cut off at what is left of the budget;
5. nvidia-smi samples GPU and memory utilisation every 100 ms throughout;
   the summary gives them per step and per feature setting.

Writes to OUTDIR: summary.md (a table for docs/benchmarks.md), summary.json,
log.txt (time-stamped), gpu.csv and results.tar.gz (run.json, time -v reports,
the feature timings, the scores), within the device tool's limits on files.

  python bench/gpu_her2st.py OUTDIR [--data bench-data/her2st] [--budget 500]
  python bench/gpu_her2st.py OUTDIR --cpu-smoke   # the same path on the bundled example, CPU, minutes
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from pixel2gene.features import DEFAULT_ENCODER  # noqa: E402

SAMPLER_MS = 100
FIELDS = "timestamp,utilization.gpu,utilization.memory,memory.used,power.draw"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--data", default=str(REPO / "bench-data" / "her2st"),
                    help="folder holding C2/, C3/, C4/ (with truth/) and the referee's her2st.py")
    ap.add_argument("--work", default="/tmp/p2g-gpu-bench", help="scratch folder (deleted first)")
    ap.add_argument("--budget", type=float, default=500.0,
                    help="seconds the whole benchmark may take (the device tool stops a command at 600 s)")
    ap.add_argument("--cpu-smoke", action="store_true", help="bundled example on the CPU: checks the plumbing")
    a = ap.parse_args()
    t_start = time.time()
    out, work = Path(a.outdir), Path(a.work)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = Log(out / "log.txt")
    env = environment()
    log.line(f"environment: {json.dumps(env)}")
    sampler = GpuSampler(out / "gpu.csv", log)

    if a.cpu_smoke:
        train, tests = REPO / "assets/example/train", [REPO / "assets/example/test"]
        extra = ["--device", "cpu", "--epochs", "2", "--n-folds", "2", "--threads", "1"]
        encoders, hipt = [DEFAULT_ENCODER], "hipt"
        os.environ["OMP_NUM_THREADS"] = "1"  # a shared CPU: one thread for torch in every child
    else:
        data = Path(a.data)
        train, tests = data / "C2", [data / "C3", data / "C4"]
        extra = [arg for t in tests for arg in ("--truth", f"{t.name}={t}/truth/")] + ["--map-genes", "ERBB2"]
        encoders, hipt = [DEFAULT_ENCODER, DEFAULT_ENCODER], "hipt-shift16"

    def run_cmd(run_dir):
        return [sys.executable, str(REPO / "bin" / "p2g-run"), "--train", f"{train}/",
                *[arg for t in tests for arg in ("--predict", f"{t}/")], "--outdir", str(run_dir), *extra]

    run_dir = work / "run"
    run = log.timed("p2g-run", run_cmd(run_dir), work / "time-run.txt", timeout=a.budget - 60)  # cut off, still reports

    scores = {}
    referee = Path(a.data) / "her2st.py"
    if run["returncode"] == 0 and not a.cpu_smoke and referee.exists():
        scores = {t.name: referee_score(referee, run_dir, t, train, log) for t in tests}

    features, left = [], lambda: a.budget - (time.time() - t_start) - 20  # keep time for the summary
    if run["returncode"] == 0:
        features += features_alone(log, train, run_dir, work, encoders, a.cpu_smoke, left())

    repeat = None
    if run["returncode"] == 0 and left() > 1.3 * run["seconds"]:
        rerun = log.timed("p2g-run again", run_cmd(work / "run2"), work / "time-run2.txt", timeout=left())
        if rerun["returncode"] == 0:
            repeat = {"seconds": rerun["seconds"],
                      **{t.name: compare_maps(run_dir / t.name, work / "run2" / t.name) for t in tests}}
            log.line(f"repeat: {json.dumps(repeat)}")
    else:
        log.line(f"repeat: skipped ({left():.0f} s left, the run took {run['seconds']:.0f} s)")

    if run["returncode"] == 0 and left() > 30:  # HIPT last: the slowest, cut off at what is left
        features += features_alone(log, train, run_dir, work, [hipt], a.cpu_smoke, left())
    sampler.stop()

    summary = summarise(env, run, run_dir, log, features, sampler.samples(), scores, work)
    summary["repeat"] = repeat
    summary["benchmark_seconds"] = round(time.time() - t_start, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text(markdown(summary))
    print(markdown(summary), flush=True)
    pack(out / "results.tar.gz", [run_dir / "run.json", work / "time-run.txt", *work.glob("time-features-*.txt"),
                                  work / "time-run2.txt", work / "features.jsonl"])
    sys.exit(0 if run["returncode"] == 0 else 1)


def features_alone(log, train: Path, run_dir: Path, work: Path, settings, cpu: bool, seconds: float) -> list:
    """bench/features_speed.py on the training sample, reusing the run's rescale and mask: one dict per setting."""
    jsonl = work / "features.jsonl"
    done = len(jsonl.read_text().splitlines()) if jsonl.exists() else 0
    cmd = [sys.executable, str(REPO / "bench" / "features_speed.py"), f"{train}/", str(work / "features"),
           "--rescaled", str(run_dir / "work" / train.name / "rescale"),
           "--mask", str(run_dir / "work" / train.name / "mask"), "--settings", *settings, "--json", str(jsonl)]
    if cpu:
        cmd += ["--device", "cpu"]
    log.timed(f"features alone: {' '.join(settings)}", cmd, work / f"time-features-{done}.txt",
              timeout=max(seconds, 30))
    lines = jsonl.read_text().splitlines() if jsonl.exists() else []
    return [json.loads(s) for s in lines[done:] if s.strip()]


def referee_score(referee: Path, run_dir: Path, test: Path, train: Path, log) -> dict:
    proc = subprocess.run([sys.executable, str(referee), "score", "--pred", str(run_dir / test.name),
                           "--truth-cnts", str(test / "truth" / "cnts.tsv.gz"),
                           "--truth-locs", str(test / "truth" / "locs-raw.tsv"),
                           "--pixel-size-raw", str(test / "pixel-size-raw.txt"),
                           "--train-cnts", str(train / "cnts.parquet")], capture_output=True, text=True)
    log.line(f"score {test.name}: {proc.stdout.strip()} {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None


def compare_maps(a: Path, b: Path) -> dict:
    """How far two runs' gene maps are apart: the largest absolute difference over every gene and pixel."""
    files = sorted(p.name for p in (a / "cnts-super").glob("*.npy"))
    worst, identical = 0.0, 0
    for name in files:
        x = np.load(a / "cnts-super" / name, allow_pickle=False)
        y = np.load(b / "cnts-super" / name, allow_pickle=False)
        same = np.array_equal(x, y, equal_nan=True)
        identical += same
        if not same:
            worst = max(worst, float(np.nanmax(np.abs(x.astype(np.float64) - y))))
    return {"genes": len(files), "identical": identical, "max_abs_diff": worst}


class Log:
    """Every line of every command, time-stamped, in one file and on stdout."""

    def __init__(self, path: Path):
        self.f = open(path, "w", buffering=1)
        self.lines = []

    def line(self, text: str, t=None):
        t = time.time() if t is None else t
        self.lines.append((t, text))
        self.f.write(f"{t:.3f} {text}\n")
        print(text, flush=True)

    def timed(self, label, cmd, time_file: Path, timeout=None):
        """Run cmd under /usr/bin/time -v; returns its return code, wall seconds and start/end."""
        full = ["/usr/bin/time", "-v", "-o", str(time_file), *cmd] if Path("/usr/bin/time").exists() else cmd
        self.line(f"== {label}: {' '.join(map(str, cmd))}")
        t0 = time.time()
        proc = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        killer = threading.Timer(timeout, proc.kill) if timeout else None
        if killer:
            killer.start()
        for text in proc.stdout:
            self.line(text.rstrip("\n"))
        rc = proc.wait()
        if killer:
            killer.cancel()
        t1 = time.time()
        self.line(f"== {label}: exit {rc} after {t1 - t0:.1f} s" + (" (cut off at the budget)" if rc == -9 else ""))
        return {"label": label, "returncode": rc, "start": t0, "end": t1, "seconds": round(t1 - t0, 2),
                "time_v": read_time_v(time_file)}


class GpuSampler:
    """nvidia-smi every SAMPLER_MS ms into a CSV; nothing where there is no nvidia-smi."""

    def __init__(self, path: Path, log: Log):
        self.path, self.proc = path, None
        exe = shutil.which("nvidia-smi")
        if exe:
            self.f = open(path, "w")
            self.proc = subprocess.Popen([exe, f"--query-gpu={FIELDS}", "--format=csv,noheader,nounits",
                                          f"--loop-ms={SAMPLER_MS}"], stdout=self.f, stderr=subprocess.DEVNULL)
        else:
            path.write_text("no nvidia-smi on this machine\n")
            log.line("nvidia-smi: not found, no GPU samples")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait()
            self.f.close()

    def samples(self):
        """[(unix time, gpu %, memory %, memory MiB)] from the CSV."""
        out = []
        if not self.proc:
            return out
        for row in self.path.read_text().splitlines():
            parts = [p.strip() for p in row.split(",")]
            try:
                t = datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
                out.append((t, float(parts[1]), float(parts[2]), float(parts[3])))
            except (ValueError, IndexError):
                continue
        return out


def environment():
    env = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    try:
        import torch
        env["torch"] = torch.__version__
        env["cuda"] = torch.cuda.is_available()
        if env["cuda"]:
            env["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        env["torch"] = None
    if shutil.which("nvidia-smi"):
        env["nvidia_smi"] = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout.strip()
    return env


def read_time_v(path: Path) -> dict:
    keep = {"Elapsed (wall clock) time (h:mm:ss or m:ss)": "wall", "Maximum resident set size (kbytes)": "max_rss_kb",
            "User time (seconds)": "user_s", "System time (seconds)": "system_s",
            "Percent of CPU this job got": "cpu_percent"}
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.strip().rpartition(": ")
            if key in keep:
                out[keep[key]] = value
    return out


def step_windows(log: Log, run: dict):
    """(label, start, end) of each runner step, from the time-stamped '[p2g] step k/n: label' lines."""
    starts = [(t, text.split(": ", 1)[1]) for t, text in log.lines
              if run["start"] <= t <= run["end"] and text.startswith("[p2g] step ") and ": " in text]
    ends = [t for t, _ in starts[1:]] + [run["end"]]
    return [(label, t0, t1) for (t0, label), t1 in zip(starts, ends)]


def utilisation(samples, t0, t1):
    inside = [s for s in samples if t0 <= s[0] < t1]
    if not inside:
        return None
    gpu = [s[1] for s in inside]
    return {"samples": len(inside), "gpu_mean": round(sum(gpu) / len(gpu), 1), "gpu_max": max(gpu),
            "busy_frac": round(sum(g > 0 for g in gpu) / len(gpu), 2),
            "mem_max_mib": max(s[3] for s in inside)}


def summarise(env, run, run_dir, log, features, samples, scores, work):
    steps = []
    record = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    seconds = {s["step"]: s["seconds"] for s in record.get("steps", [])}
    for label, t0, t1 in step_windows(log, run):
        steps.append({"step": label, "seconds": seconds.get(label, round(t1 - t0, 2)),
                      "gpu": utilisation(samples, t0, t1)})
    for f in features:
        f["gpu_util"] = utilisation(samples, f.get("t0", 0), f.get("t1", 0))
    effnet = [f["seconds"] for f in features if f["setting"] == DEFAULT_ENCODER]
    hipt = [f["seconds"] for f in features if f["setting"].startswith("hipt")]
    return {"environment": env, "run": {k: run[k] for k in ("returncode", "seconds", "time_v")},
            "run_seconds_in_record": record.get("seconds"), "steps": steps, "features": features,
            "effnet_vs_hipt": round(hipt[0] / min(effnet), 1) if effnet and hipt else None, "scores": scores}


def busy(g) -> str:
    return f"{g['gpu_mean']} / {g['gpu_max']:.0f}" if g else "-"


def markdown(s) -> str:
    env, run = s["environment"], s["run"]
    rss = int(run["time_v"].get("max_rss_kb", 0)) / 2 ** 20
    lines = [f"Device: {env.get('gpu') or 'CPU'} ({env.get('cpus')} CPU cores), torch {env.get('torch')}, "
             f"Python {env.get('python')}", "",
             f"p2g-run: exit {run['returncode']}, wall {run['time_v'].get('wall', run['seconds'])}, "
             f"peak RSS {rss:.2f} GiB", "",
             "| step | seconds | GPU busy (mean / max %) | samples with GPU > 0 |", "| --- | --- | --- | --- |"]
    for st in s["steps"]:
        frac = f"{st['gpu']['busy_frac']:.0%}" if st["gpu"] else "-"
        lines.append(f"| {st['step']} | {st['seconds']} | {busy(st['gpu'])} | {frac} |")
    lines += ["", "| feature step alone | seconds | device | GPU busy (mean / max %) | peak GPU GiB |",
              "| --- | --- | --- | --- | --- |"]
    for f in s["features"]:
        lines.append(f"| {f['setting']} | {f['seconds']} | {f['device']} | {busy(f.get('gpu_util'))} | "
                     f"{f.get('peak_gpu_gib')} |")
    lines += ["", f"hipt --shift-average / {DEFAULT_ENCODER} (best run): {s['effnet_vs_hipt']}"]
    lines += [f"{name} score (referee): {json.dumps(score)}" for name, score in s["scores"].items()]
    lines += [f"same run again: {json.dumps(s.get('repeat'))}", ""]
    return "\n".join(lines)


def pack(path: Path, files):
    with tarfile.open(path, "w:gz") as tar:
        for f in files:
            if f.exists():
                tar.add(f, arcname=f.name)


if __name__ == "__main__":
    main()
