#!/usr/bin/env python3
"""The GPU benchmark of issue #16 in one call: HER2ST C2 -> C3 with default settings, then the feature step alone.

1. `p2g-run --train C2/ --predict C3/` (default settings: 10 folds, --device auto)
   under /usr/bin/time -v; every stderr line is time-stamped, so each step's
   start and end are known;
2. the feature step alone on C2, reusing that run's rescale and mask:
   effnet-lite2 twice (cold: CUDA start, weights; warm), then
   hipt --shift-average --random-init, cut off at what is left of the budget;
3. nvidia-smi samples GPU and memory utilisation every 100 ms throughout;
   the summary gives them per step and per feature setting;
4. C3 is scored with the referee's her2st.py (composition r = pearson_norm_mean).

Writes to OUTDIR: summary.md (a table for docs/benchmarks.md), summary.json,
log.txt (time-stamped), gpu.csv and results.tar.gz (run.json, time -v reports,
the feature timings, the score), within the device tool's limits on files.

  python bench/gpu_her2st.py OUTDIR [--data bench-data/her2st] [--budget 540]
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

REPO = Path(__file__).resolve().parents[1]
SAMPLER_MS = 100
FIELDS = "timestamp,utilization.gpu,utilization.memory,memory.used,power.draw"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--data", default=str(REPO / "bench-data" / "her2st"),
                    help="folder holding C2/, C3/ (with truth/) and the referee's her2st.py")
    ap.add_argument("--work", default="/tmp/p2g-gpu-bench", help="scratch folder (deleted first)")
    ap.add_argument("--budget", type=float, default=540.0,
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
        train, test = REPO / "assets/example/train", REPO / "assets/example/test"
        extra = ["--device", "cpu", "--epochs", "2", "--n-folds", "2", "--threads", "1"]
        settings = ["effnet-lite2", "hipt"]
        os.environ["OMP_NUM_THREADS"] = "1"  # a shared CPU: one thread for torch in every child
    else:
        data = Path(a.data)
        train, test = data / "C2", data / "C3"
        extra = []
        settings = ["effnet-lite2", "effnet-lite2", "hipt-shift16"]
    run_dir = work / "run"
    cmd = [sys.executable, str(REPO / "bin" / "p2g-run"), "--train", f"{train}/", "--predict", f"{test}/",
           "--outdir", str(run_dir), *extra]
    run = log.timed("p2g-run", cmd, work / "time-run.txt", timeout=a.budget - 60)  # a cut-off run still reports

    features = []
    if run["returncode"] == 0:
        name = train.name
        left = a.budget - (time.time() - t_start) - (20 if a.cpu_smoke else 60)  # keep time for the score
        cmd = [sys.executable, str(REPO / "bench" / "features_speed.py"), f"{train}/", str(work / "features"),
               "--rescaled", str(run_dir / "work" / name / "rescale"), "--mask", str(run_dir / "work" / name / "mask"),
               "--settings", *settings, "--json", str(work / "features.jsonl")]
        if a.cpu_smoke:
            cmd += ["--device", "cpu"]
        log.timed("features alone", cmd, work / "time-features.txt", timeout=max(left, 30))
        if (work / "features.jsonl").exists():
            features = [json.loads(s) for s in (work / "features.jsonl").read_text().splitlines() if s.strip()]

    score = None
    referee = Path(a.data) / "her2st.py"
    if run["returncode"] == 0 and not a.cpu_smoke and referee.exists():
        c3 = Path(a.data) / "C3"
        proc = subprocess.run([sys.executable, str(referee), "score", "--pred", str(run_dir / "C3"),
                               "--truth-cnts", str(c3 / "truth" / "cnts.tsv.gz"),
                               "--truth-locs", str(c3 / "truth" / "locs-raw.tsv"),
                               "--pixel-size-raw", str(c3 / "pixel-size-raw.txt"),
                               "--train-cnts", str(Path(a.data) / "C2" / "cnts.parquet")],
                              capture_output=True, text=True)
        log.line(f"score: {proc.stdout.strip()} {proc.stderr.strip()[-500:]}")
        score = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None
    sampler.stop()

    summary = summarise(env, run, run_dir, log, features, sampler.samples(), score, work)
    summary["benchmark_seconds"] = round(time.time() - t_start, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text(markdown(summary))
    print(markdown(summary), flush=True)
    pack(out / "results.tar.gz", [run_dir / "run.json", work / "time-run.txt", work / "time-features.txt",
                                  work / "features.jsonl"])
    sys.exit(0 if run["returncode"] == 0 else 1)


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


def summarise(env, run, run_dir, log, features, samples, score, work):
    steps = []
    record = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    seconds = {s["step"]: s["seconds"] for s in record.get("steps", [])}
    for label, t0, t1 in step_windows(log, run):
        steps.append({"step": label, "seconds": seconds.get(label, round(t1 - t0, 2)),
                      "gpu": utilisation(samples, t0, t1)})
    for f in features:
        f["gpu_util"] = utilisation(samples, f.get("t0", 0), f.get("t1", 0))
    effnet = [f["seconds"] for f in features if f["setting"] == "effnet-lite2"]
    hipt = [f["seconds"] for f in features if f["setting"].startswith("hipt")]
    return {"environment": env, "run": {k: run[k] for k in ("returncode", "seconds", "time_v")},
            "run_seconds_in_record": record.get("seconds"), "steps": steps, "features": features,
            "effnet_vs_hipt": round(hipt[0] / min(effnet), 1) if effnet and hipt else None, "score_C3": score}


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
    lines += ["", f"hipt --shift-average / effnet-lite2 (best run): {s['effnet_vs_hipt']}",
              f"C3 score (referee): {json.dumps(s['score_C3'])}", ""]
    return "\n".join(lines)


def pack(path: Path, files):
    with tarfile.open(path, "w:gz") as tar:
        for f in files:
            if f.exists():
                tar.add(f, arcname=f.name)


if __name__ == "__main__":
    main()
