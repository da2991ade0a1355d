"""--device: auto is the default everywhere, resolves to what torch sees, and is recorded."""
import importlib
import json
from dataclasses import fields

import pytest
import torch

from pixel2gene.errors import InputError
from pixel2gene.tool.device import resolve_device
from pixel2gene.features import DEFAULT_ENCODER

HAS_CUDA = torch.cuda.is_available()


def test_auto_resolves_to_cuda_only_when_torch_sees_a_gpu():
    assert resolve_device("auto") == ("cuda" if HAS_CUDA else "cpu")
    assert resolve_device("cpu") == "cpu" and resolve_device("CPU") == "cpu"


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a CUDA GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_without_cuda_is_a_one_line_error(device):
    with pytest.raises(InputError, match="--device auto or cpu"):
        resolve_device(device)


@pytest.mark.parametrize("device", ["gpu", "cuda0", "cuda:", "cuda:-1", "metal", ""])
def test_bogus_devices_are_refused(device):
    if device == "":
        assert resolve_device(device) == resolve_device("auto")  # no value means auto
        return
    with pytest.raises(InputError, match="is not a device"):
        resolve_device(device)


@pytest.mark.parametrize("module", ["steps.features", "steps.train", "steps.predict", "steps.evaluate",
                                    "runner.run"])
def test_every_tool_defaults_to_auto(module):
    args = importlib.import_module(f"pixel2gene.{module}").Args
    assert {f.name: f.default for f in fields(args)}["device"] == "auto"


def test_the_chosen_device_is_recorded(chain):
    work = chain["out"] / "work"
    expected = "cuda" if HAS_CUDA else "cpu"
    features = work / "test" / f"features-{DEFAULT_ENCODER}"
    assert json.loads((features / "features.json").read_text())["device"] == expected
    assert json.loads((work / "model" / "model.json").read_text())["device"] == expected
    assert json.loads((work / "test" / "pred" / "pred.json").read_text())["device"] == expected
    run = json.loads((chain["out"] / "run.json").read_text())
    assert run["args"]["device"] == "auto" and run["device"].startswith(expected)
    assert f"device: {expected}" in chain["log"]
