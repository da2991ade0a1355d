"""Histology features per superpixel, streamed to a float16 memory map."""
import math
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch

from ..artifacts.features import Features
from ..artifacts.mask import Mask
from ..artifacts.rescaled import Rescaled
from ..choices import Stain
from ..features import DEFAULT_ENCODER, from_settings, list_encoders, option_classes
from ..features.base import ExtractContext
from ..features.colour import channel_names as colour_channels, colour_context
from ..features.stats import gather_tissue_rows
from ..image import SUPERPIXEL
from ..image.perturb import random_shift
from ..image.stain import mapped_copy, normalise_slide
from ..image.superpixels import superpixel_colour
from ..io.memmaps import release_pages
from ..io.plausible import check_free_space
from ..tool.allocator import keep_big_allocations
from ..tool.device import resolve_device
from ..tool.options import compose, device_field, out_field, threads_field, upstream_field
from ..tool.progress import Progress, say
from ..tool.stamps import start


@dataclass
class StepArgs:
    """What the step takes whichever the encoder; each encoder adds its own options (features/registry.py)."""
    rescaled: str = upstream_field(Rescaled, part="image")
    mask: str = upstream_field(Mask)
    out: str = out_field()
    encoder: str = field(default=DEFAULT_ENCODER, metadata=dict(choices=list_encoders(), help="histology encoder"))
    device: str = device_field()
    threads: int = threads_field()
    augment_copy: int = field(default=0, metadata=dict(
        least=0, renamed_from="--augment",
        help="0: the slide as it is; k >= 1: its k-th seeded random stain/scanner shift (dyes, white point, "
             "exposure, JPEG), a training copy for colour augmentation (p2g-run --augment)"))
    stain: str = field(default=Stain.NONE.value, metadata=dict(
        choices=Stain.values(), help="stain normalisation before the encoder: none, or macenko "
                                     "(every slide re-expressed with one fixed reference H&E)"))


Args = compose("Args", StepArgs, *option_classes(), module=__name__)


def encoder_settings(args) -> dict:
    """The values of every encoder's options, for features.from_settings to check and hand on."""
    return {f.name: getattr(args, f.name) for options in option_classes() for f in fields(options)}


AUGMENT_SEED = 0x5a1b  # copy k is shift k of this seed's stream: the same copies on every machine


def augment_hook(k: int, image, sample: dict, folder: Features):
    """The slide itself (k = 0) or its k-th random shift (perturb.random_shift), written strip by strip."""
    if k == 0:
        return image, None
    shift = random_shift(np.random.default_rng(np.random.SeedSequence([AUGMENT_SEED, k])), f"augment {k}")
    copy = mapped_copy(image, shift.apply, folder.augmented.path)  # strips of 256 rows: no JPEG block straddles two
    say(f"features {sample['name']}: augmented copy {k}: dyes x{shift.dye_scale[0]:.2f} / x{shift.dye_scale[1]:.2f}, "
        f"gains {'/'.join(f'{g:.2f}' for g in shift.gain)}, contrast x{shift.contrast:.2f}, "
        f"brightness {shift.brightness:+.0f}, JPEG {shift.jpeg_quality or 'none'}")
    return copy, asdict(shift)


def stain_hook(method: str, image, mask, rgb, sample: dict, folder: Features):
    """The image the encoder reads and its mean colours: the slide itself, or its stain-normalised copy."""
    if method == Stain.NONE:
        return image, rgb, {"method": "none"}
    content = [math.ceil(s / SUPERPIXEL) for s in sample["shape"]]
    normalised, record = normalise_slide(image, mask, rgb.astype(np.float32), content, folder.normalised.path)
    say(f"features {sample['name']}: stain-normalised (Macenko) to the reference H&E")
    return normalised, superpixel_colour(normalised)[0], record


def run(args: Args) -> Features:
    out, params, done = start(Features, args)
    if done:
        return done
    device = resolve_device(args.device)
    rescaled, mask_folder = Rescaled(args.rescaled), Mask(args.mask)
    sample = rescaled.sample
    keep_big_allocations()  # torch's big activations: reuse freed blocks, no page faults
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    encoder = from_settings(args.encoder, encoder_settings(args))
    image = rescaled.image.read(mmap=True)
    mask = mask_folder.tissue.read()
    rgb = mask_folder.rgb.read()
    names = ["mean_r", "mean_g", "mean_b"] + colour_channels() + list(encoder.channels)
    first = len(names) - len(encoder.channels)
    say(f"features {sample['name']}: {args.encoder}, {len(names)} channels, "
        f"{int(mask.sum())} tissue superpixels on {device}")
    # the scratch grid is a sparse file: only tiles that hold tissue are ever written (about twice the tissue
    # cells), then copied into the tissue rows the step keeps
    copies = (args.augment_copy > 0) + (args.stain != Stain.NONE)  # scratch copies of the slide while the step runs
    n_tissue = int(mask.sum())
    check_free_space(out.parent, (min(mask.size, 2 * n_tissue) + n_tissue) * len(names) * 2 + copies * image.nbytes,
                     "the float16 features" + (" and the slide's scratch copies" if copies else ""))
    with Features.create(out, params) as folder:
        image, augmented = augment_hook(args.augment_copy, image, sample, folder)
        if augmented:
            rgb = superpixel_colour(image)[0]
        image, rgb, stain = stain_hook(args.stain, image, mask, rgb, sample, folder)
        feats = folder.create_grid(mask.shape, len(names))
        for i in range(0, len(rgb), 64):  # by strips: touching the whole map at once keeps it all resident
            strip, on = feats[i:i + 64], mask[i:i + 64]
            strip[on, :3] = rgb[i:i + 64][on]  # tissue only, so background pages stay holes in the file
            release_pages(feats)
        colour_context(image, mask, feats[..., 3:first], Progress(f"features {sample['name']} (colour)"))
        ctx = ExtractContext(image=image, mask=mask, device=device,
                             progress=Progress(f"features {sample['name']}"))
        encoder.extract(ctx, feats[..., first:])
        folder.write_channel_stats(*gather_tissue_rows(feats, mask, folder.create_rows(n_tissue, len(names))))
        del feats, image
        folder.remove_scratch()
        folder.record.write({"encoder": encoder.describe(), "stain": stain, "augmented": augmented,
                             "n_channels": len(names), "channels": names, "grid_shape": list(mask.shape),
                             "device": device, "seconds": round(time.time() - t0, 2)})
    say(f"features {sample['name']}: done in {time.time() - t0:.0f} s")
    return Features(out)
