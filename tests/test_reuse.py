"""Re-running p2g-run: exactly the steps whose inputs changed run again, the others are reused."""
import re

import cv2
import numpy as np
import pytest

from pixel2gene.runner import run as runner
from synthetic import make_sample

EVERY_STEP = {"rescale train", "mask train", "features train", "rescale test", "mask test", "features test",
              "genes", "folds train", "train", "select", "predict test", "combine test", "domains test", "export test",
              "maps test", "report test"}
ALWAYS = {"export test", "report test"}  # one-file outputs, rewritten on every run
TEST_IMAGE = {"rescale test", "mask test", "features test", "predict test", "combine test", "domains test", "maps test"}
TRAIN_BINS = {"rescale train", "folds train", "train", "select", "predict test", "combine test", "domains test",
              "maps test"}


def steps_that_ran(log):
    """Labels of the steps that did not say 'reusing' (the runner prints 'step k/n: LABEL' before each)."""
    segments = re.split(r"\[p2g\] step \d+/\d+: ", log)[1:]
    return {seg.splitlines()[0] for seg in segments if "reusing" not in seg}


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    root = tmp_path_factory.mktemp("reuse")
    make_sample(f"{root}/train/", size_um=480, seed=0)
    make_sample(f"{root}/test/", size_um=480, seed=1, rotate=1.0, measured=False)
    user_mask = np.zeros((600, 600), np.uint8)
    user_mask[60:540, 60:540] = 255
    cv2.imwrite(str(root / "test-mask.png"), user_mask)
    return root


def edit_text(path, old, new):
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def test_each_input_change_reruns_exactly_the_affected_steps(samples, capsys):
    root, out = samples, samples / "out"
    options = {"epochs": 2, "map_top": 1}

    def run():
        capsys.readouterr()
        runner.run(runner.Args(train=[f"{root}/train/"], predict=[f"{root}/test/"], outdir=str(out),
                               encoder="texture", n_folds=2, threads=1,
                               mask_file=[f"test={root}/test-mask.png"], **options))
        return steps_that_ran(capsys.readouterr().err)

    assert run() == EVERY_STEP
    assert run() == ALWAYS

    image = cv2.imread(str(root / "test" / "he-raw.jpg"))
    cv2.imwrite(str(root / "test" / "he-raw.jpg"), image[::-1])
    assert run() == TEST_IMAGE | ALWAYS, "image"

    edit_text(root / "test" / "pixel-size-raw.txt", "0.8", "0.79")
    assert run() == TEST_IMAGE | ALWAYS, "pixel-size-raw.txt"

    mask = cv2.imread(str(root / "test-mask.png"), cv2.IMREAD_GRAYSCALE)
    mask[:, :300] = 0
    cv2.imwrite(str(root / "test-mask.png"), mask)
    assert run() == TEST_IMAGE - {"rescale test"} | ALWAYS, "mask file"

    edit_text(root / "train" / "pixel-size.txt", "0.5", "0.55")
    assert run() == TRAIN_BINS | {"mask train", "features train"} | ALWAYS, "pixel-size.txt"

    edit_text(root / "train" / "radius-raw.txt", "55", "60")
    assert run() == TRAIN_BINS | ALWAYS, "radius-raw.txt"

    lines = (root / "train" / "locs-raw.tsv").read_text().splitlines()
    spot, x, y = lines[1].split("\t")
    lines[1] = f"{spot}\t{float(x) + 3}\t{y}"
    (root / "train" / "locs-raw.tsv").write_text("\n".join(lines) + "\n")
    assert run() == TRAIN_BINS | ALWAYS, "locs-raw.tsv"

    lines = (root / "train" / "cnts.tsv").read_text().splitlines()
    cells = lines[1].split("\t")
    cells[1] = str(int(float(cells[1])) + 5)
    lines[1] = "\t".join(cells)
    (root / "train" / "cnts.tsv").write_text("\n".join(lines) + "\n")
    assert run() == TRAIN_BINS | {"genes"} | ALWAYS, "cnts.tsv"

    options["epochs"] = 3
    assert run() == {"train", "select", "predict test", "combine test", "domains test", "maps test"} | ALWAYS, \
        "--epochs"

    options["map_top"] = 2
    assert run() == {"maps test"} | ALWAYS, "--map-top"


def test_every_step_field_declares_how_it_is_stamped():
    """Upstream folders are stamped by their digest and runtime options not at all; the rest are parameters."""
    import importlib
    from dataclasses import fields
    from pathlib import Path
    for path in sorted((Path(runner.__file__).parents[1] / "steps").glob("[a-z]*.py")):
        module = importlib.import_module(f"pixel2gene.steps.{path.stem}")
        if not hasattr(module, "Args"):  # p2g-import converts outside data; it has no step output to reuse
            continue
        for f in fields(module.Args):
            help_text, role = f.metadata.get("help", ""), f.metadata.get("role")
            if f.name in ("out", "device", "threads"):
                assert role == "runtime", (path.stem, f.name)
            elif re.search(r"p2g-\w+ outputs?\b|output director(y|ies) of p2g-", help_text):
                assert "upstream" in f.metadata, (path.stem, f.name)
            assert role in (None, "runtime", "file", "sample"), (path.stem, f.name, role)
