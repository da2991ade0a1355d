"""Histology features per superpixel, streamed to a float16 memory map."""
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

import numpy as np
import torch

from ..errors import InputError
from ..features import create_encoder, list_encoders
from ..features.base import ExtractContext
from ..features.store import create, tissue_statistics
from ..io.memmaps import release_pages
from ..io.outputs import load_npy, read_json, write_json
from ..pipeline.progress import Progress, say
from ..pipeline.reuse import StepOutput, finished

DEFAULT_ENCODER = "effnet-lite2"


@dataclass
class Args:
    rescaled: str = field(metadata=dict(help="output directory of p2g-rescale"))
    mask: str = field(metadata=dict(help="output directory of p2g-mask"))
    out: str = field(metadata=dict(help="output directory of this step"))
    encoder: str = field(default=DEFAULT_ENCODER, metadata=dict(help="histology encoder (see --list-encoders)"))
    device: str = field(default="cpu", metadata=dict(help="cpu, cuda or cuda:N"))
    threads: int = field(default=0, metadata=dict(help="CPU threads for torch (0 = all cores)"))
    weights: List[str] = field(default_factory=list, metadata=dict(
        nargs="*", help="checkpoint files the encoder needs (hipt: vit256_small_dino.pth vit4k_xs_dino.pth)"))
    shift_average: bool = field(default=False, metadata=dict(
        help="hipt: average 16 runs shifted by 0/64/128/192 px, as the reference does (16x slower)"))
    random_init: bool = field(default=False, metadata=dict(
        help="use random weights instead of checkpoints (tests and timing only)"))


def encoder_options(args: Args) -> dict:
    """Only the options a user set, so encoders that take none are not handed any."""
    options = {"weights": [str(Path(w).resolve()) for w in args.weights], "shift_average": args.shift_average,
               "random_init": args.random_init}
    return {k: v for k, v in options.items() if v}


def run(args: Args) -> Path:
    out = Path(args.out)
    sample = read_json(Path(args.rescaled) / "sample.json")
    params = {"rescaled": str(Path(args.rescaled).resolve()), "mask": str(Path(args.mask).resolve()),
              "encoder": args.encoder, "options": encoder_options(args)}
    if finished(out, params):
        say(f"features {sample['name']}: reusing {out}")
        return out
    if args.encoder not in list_encoders():
        raise InputError("--encoder", f"unknown encoder '{args.encoder}'",
                         f"choose one of {', '.join(list_encoders())}")
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    try:
        encoder = create_encoder(args.encoder, **encoder_options(args))
    except TypeError as exc:
        raise InputError("--encoder", f"{args.encoder} does not take {', '.join(encoder_options(args))} ({exc})",
                         "leave those options out for this encoder") from None
    image = load_npy(Path(args.rescaled) / "image.npy", mmap=True)
    mask = load_npy(Path(args.mask) / "mask.npy")
    rgb = load_npy(Path(args.mask) / "rgb.npy")
    names = ["mean_r", "mean_g", "mean_b"] + list(encoder.channels)
    say(f"features {sample['name']}: {args.encoder}, {len(names)} channels, "
        f"{int(mask.sum())} tissue superpixels on {args.device}")
    with StepOutput(out, params, "features") as tmp:
        feats = create(tmp / "features.npy", mask.shape, len(names))
        for i in range(0, len(rgb), 64):  # by strips: touching the whole map at once keeps it all resident
            feats[i:i + 64, :, :3] = rgb[i:i + 64]
            release_pages(feats)
        ctx = ExtractContext(image=image, mask=mask, device=args.device,
                             progress=Progress(f"features {sample['name']}"))
        encoder.extract(ctx, feats[..., 3:])
        feats.flush()
        mean, std = tissue_statistics(feats, mask)
        np.save(tmp / "channel-mean.npy", mean, allow_pickle=False)
        np.save(tmp / "channel-std.npy", std, allow_pickle=False)
        del feats
        write_json(tmp / "features.json", {"encoder": encoder.describe(), "n_channels": len(names),
                                           "channels": names, "grid_shape": list(mask.shape),
                                           "device": args.device, "seconds": round(time.time() - t0, 2)})
    say(f"features {sample['name']}: done in {time.time() - t0:.0f} s")
    return out
