#!/usr/bin/env python3
"""Wall time of the feature step per encoder on one sample, e.g. HER2ST C2 on a GPU.

Rescales and masks the sample once (or reuses given rescale/mask outputs),
then runs the feature step for each setting in turn and prints one JSON line
each (seconds, device, peak GPU memory, start and end). A setting may repeat:
the first run of a process pays for starting CUDA and loading weights.
Issue #16's target: the default encoder at least 10x faster than HIPT with
shift averaging on the same GPU (HIPT may use random weights for timing).

  python bench/features_speed.py ../shared/data/her2st/C2/ WORKDIR
  python bench/features_speed.py ../shared/data/her2st/C2/ WORKDIR --device cpu --settings effnet-lite0 hipt
  python bench/features_speed.py ../shared/data/her2st/C2/ WORKDIR --device cuda --settings uni uni2-h virchow2 \
      h-optimus-0 phikon-v2 prov-gigapath conch
"""
import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from pixel2gene.features.presets import PRESETS
from pixel2gene.tool.device import resolve_device
from pixel2gene.steps import features, mask, rescale

SETTINGS = {
    "effnet-lite2": dict(encoder="effnet-lite2"),
    "effnet-lite0": dict(encoder="effnet-lite0"),
    "texture": dict(encoder="texture"),
    "hipt": dict(encoder="hipt", random_init=True),
    "hipt-shift16": dict(encoder="hipt", random_init=True, shift_average=True),
    # the foundation presets with random weights: their cost does not depend on the weights
    **{name: dict(encoder=name, random_init=True) for name in PRESETS},
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("prefix")
    ap.add_argument("workdir")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--settings", nargs="+", default=[features.DEFAULT_ENCODER, "hipt-shift16"], choices=list(SETTINGS))
    ap.add_argument("--weights", nargs="*", default=[], help="HIPT checkpoints (else random weights)")
    ap.add_argument("--rescaled", help="an existing p2g-rescale output of the sample (else made here)")
    ap.add_argument("--mask", help="an existing p2g-mask output of the sample (else made here)")
    ap.add_argument("--json", help="also append each result line to this file")
    a = ap.parse_args()
    w = Path(a.workdir)
    device = resolve_device(a.device)
    rescaled, masked = a.rescaled or str(w / "rescale"), a.mask or str(w / "mask")
    if not a.rescaled:
        rescale.run(rescale.Args(prefix=a.prefix, out=rescaled))
    if not a.mask:
        mask.run(mask.Args(rescaled=rescaled, out=masked))
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else None
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
        t0 = time.time()
        features.run(features.Args(rescaled=rescaled, mask=masked, out=str(out), device=device, **opts))
        if gpu:
            torch.cuda.synchronize()
        t1 = time.time()
        line = json.dumps({"setting": name, "seconds": round(t1 - t0, 2), "device": device, "gpu": gpu,
                           "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2 ** 30, 2) if gpu else None,
                           "torch": torch.__version__, "t0": t0, "t1": t1})
        print(line, flush=True)
        if a.json:
            with open(a.json, "a") as f:
                f.write(line + "\n")
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
