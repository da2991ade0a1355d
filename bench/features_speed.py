#!/usr/bin/env python3
"""Wall time of the feature step per encoder on one sample, e.g. HER2ST C2 on a GPU.

Rescales and masks the sample once, then runs p2g-features for each encoder
setting and prints one JSON line each (seconds, device, peak GPU memory).
The issue's target: effnet-lite2 at least 10x faster than HIPT with shift
averaging on the same GPU (HIPT may use random weights for timing).

  python bench/features_speed.py ../shared/data/her2st/C2/ WORKDIR --device cuda
  python bench/features_speed.py ../shared/data/her2st/C2/ WORKDIR --device cpu --settings effnet-lite2 hipt
"""
import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from pixel2gene.steps import features, mask, rescale

SETTINGS = {
    "effnet-lite2": dict(encoder="effnet-lite2"),
    "effnet-lite0": dict(encoder="effnet-lite0"),
    "texture": dict(encoder="texture"),
    "hipt": dict(encoder="hipt", random_init=True),
    "hipt-shift16": dict(encoder="hipt", random_init=True, shift_average=True),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("prefix")
    ap.add_argument("workdir")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--settings", nargs="+", default=["effnet-lite2", "hipt-shift16"], choices=list(SETTINGS))
    ap.add_argument("--weights", nargs="*", default=[], help="HIPT checkpoints (else random weights)")
    a = ap.parse_args()
    w = Path(a.workdir)
    rescale.run(rescale.Args(prefix=a.prefix, out=str(w / "rescale")))
    mask.run(mask.Args(rescaled=str(w / "rescale"), out=str(w / "mask")))
    gpu = torch.cuda.get_device_name(0) if a.device.startswith("cuda") else None
    for name in a.settings:
        opts = dict(SETTINGS[name])
        if a.weights and opts["encoder"] == "hipt":
            opts.pop("random_init")
            opts["weights"] = a.weights
        out = w / f"features-{name}"
        shutil.rmtree(out, ignore_errors=True)
        if gpu:
            torch.cuda.reset_peak_memory_stats()
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        features.run(features.Args(rescaled=str(w / "rescale"), mask=str(w / "mask"), out=str(out),
                                   device=a.device, **opts))
        if gpu:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        print(json.dumps({"setting": name, "seconds": round(seconds, 1), "device": a.device, "gpu": gpu,
                          "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2 ** 30, 2) if gpu else None,
                          "torch": torch.__version__}), flush=True)
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
