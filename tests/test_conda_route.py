"""The conda route (-profile conda, #27): containers/*/environment.yml install what the images install.

No conda exists where this is developed, so the environments have never been created; these checks keep their
package lists in step with the Dockerfiles and containers/requirements.txt, which the test suite runs with. How the
profile wires them into the pipeline is checked with the rest of nextflow.config in test_pipeline_static.py.
"""
import os
import re
import subprocess
import sys
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from conftest import REPO

yaml = pytest.importorskip("yaml") if os.environ.get("P2G_REQUIRE_LINTERS") != "1" else __import__("yaml")

IMAGES = ("cpu", "gpu", "spatialdata")  # spatialdata: the CPU image and the extra, for --spatialdata
PIP_OPTION = re.compile(r"--extra-index-url (https://download\.pytorch\.org/whl/\w+)")


def environment(image):
    return yaml.safe_load((REPO / "containers" / image / "environment.yml").read_text())


def conda_packages(image):
    """{name: version} of the conda (not pip) dependencies; a missing or loose pin fails here."""
    pins = {}
    for dep in environment(image)["dependencies"]:
        if isinstance(dep, dict):
            continue
        m = re.fullmatch(r"(?:conda-forge::)?([a-z0-9_.-]+)==?(\d+(?:\.\d+)+)", dep)
        assert m, f"{image}: conda dependency {dep!r} is not pinned to one exact version"
        pins[m.group(1)] = m.group(2)
    return pins


def pip_section(image):
    sections = [dep["pip"] for dep in environment(image)["dependencies"] if isinstance(dep, dict)]
    assert len(sections) == 1 and set(environment(image)["dependencies"][-1]) == {"pip"}, image
    return sections[0]


def pip_packages(image):
    """{name: version} of the pip dependencies; option lines are checked by pip_options."""
    pins = {}
    for line in pip_section(image):
        if line.startswith("-"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)==([\w.]+)", line)
        assert m, f"{image}: pip dependency {line!r} is not pinned to one exact version"
        pins[m.group(1).lower()] = m.group(2)
    return pins


def pip_options(image):
    options = [line for line in pip_section(image) if line.startswith("-")]
    for line in options:
        assert PIP_OPTION.fullmatch(line), f"{image}: pip option {line!r} (only PyTorch's own index, as extra)"
    return [PIP_OPTION.fullmatch(line).group(1) for line in options]


def pins_in(path):
    pins = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.strip().split("==")
            pins[name.lower()] = version
    return pins


def requirements(image="cpu"):
    """What an image installs besides torch: every image the shared list, the SpatialData one its extra too."""
    pins = pins_in(REPO / "containers/requirements.txt")
    own = REPO / "containers" / image / "requirements.txt"
    if own.is_file():
        assert not set(pins) & set(pins_in(own)), f"{image}: its own requirements.txt repeats shared pins"
        pins.update(pins_in(own))
    return pins


def dockerfile(image):
    return (REPO / "containers" / image / "Dockerfile").read_text()


def test_each_environment_parses_and_uses_conda_forge_only():
    for image in IMAGES:
        env = environment(image)
        assert env["name"] == f"pixel2gene-{image}"
        # nodefaults keeps Anaconda's defaults channel out even when a user's .condarc lists it
        assert env["channels"] == ["conda-forge", "nodefaults"], image
        for dep in env["dependencies"]:
            if isinstance(dep, str) and "::" in dep:
                assert dep.startswith("conda-forge::"), f"{image}: {dep} names another channel"
        assert set(conda_packages(image)) == {"python", "pip"}, "conda gives Python and pip; pip the packages"


def test_every_package_is_pinned_to_the_version_the_image_installs():
    for image in IMAGES:
        required = requirements(image)
        text = dockerfile(image)
        python = re.search(r"^FROM python:(\d+\.\d+\.\d+)-", text, re.M).group(1)
        torch = re.search(r"torch==(\d+\.\d+\.\d+)\b", text).group(1)
        conda, pip = conda_packages(image), pip_packages(image)
        assert conda["python"] == python, f"{image}: python {conda['python']}, the image {python}"
        assert pip.pop("torch") == torch, f"{image}: torch is not the image's {torch}"
        # the same packages, not only the same versions where both name one: a package the image has and
        # the environment lacks fails a task at its first import
        assert pip == required, f"{image}: differs from containers/requirements.txt: {set(pip.items()) ^ set(required.items())}"


def test_torch_comes_from_the_index_the_image_takes_it_from():
    """The CPU image installs PyTorch's CPU build from download.pytorch.org/whl/cpu (on Linux, PyPI's 2.13.0 pulls
    several GB of CUDA libraries); the GPU image PyPI's CUDA 13 build. A yml has one pip call for all its lines, so
    the CPU index is an extra one: pip prefers its 2.13.0+cpu to PyPI's 2.13.0 (a local version sorts higher)."""
    cpu_index = re.search(r"--index-url (\S+) torch==", dockerfile("cpu")).group(1)
    assert pip_options("cpu") == [cpu_index] == ["https://download.pytorch.org/whl/cpu"]
    assert 'ARG TORCH_INDEX="https://pypi.org/simple"' in dockerfile("gpu")
    assert pip_options("gpu") == []
    assert pip_options("spatialdata") == [cpu_index] and re.search(r"--index-url (\S+) torch==", dockerfile("spatialdata")).group(1) == cpu_index
    assert Version("2.13.0+cpu") > Version("2.13.0")
    # the documented switch to a CUDA 12 wheel is the index containers/build.sh --cuda 12 uses
    cuda12 = re.search(r"TORCH_INDEX=(https://download\.pytorch\.org/whl/cu\d+)", (REPO / "containers/build.sh").read_text())
    assert f"--extra-index-url {cuda12.group(1)}" in (REPO / "containers/gpu/environment.yml").read_text()


def test_the_environments_satisfy_the_packages_declared_dependencies():
    """The package is not installed into the environments (the profile puts the checkout on PYTHONPATH), so
    nothing else would notice a dependency pyproject.toml gains and the environments lack."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for image in IMAGES:
        pip = pip_packages(image)
        for spec in project["dependencies"]:
            req = Requirement(spec)
            name = req.name.lower()
            assert name in pip, f"{image}: pyproject.toml needs {name}"
            assert req.specifier.contains(pip[name], prereleases=True), f"{image}: {name}=={pip[name]} is not {spec}"
        python = conda_packages(image)["python"]
        assert Requirement(f"python{project['requires-python']}").specifier.contains(python), image


def test_the_checkout_on_pythonpath_is_the_package_the_tools_import(tmp_path):
    """With -profile conda, Nextflow puts the checkout's bin/ on PATH and the profile puts the checkout on PYTHONPATH
    (env.PYTHONPATH = projectDir): every tool imports pixel2gene, and PYTHONPATH wins over any installed copy."""
    tools = sorted((REPO / "bin").glob("p2g-*"))
    assert len(tools) >= 15  # every step has its tool
    for tool in tools:
        assert re.search(r"^from pixel2gene\.", tool.read_text(), re.M), tool
    env = dict(os.environ, PYTHONPATH=str(REPO))
    found = subprocess.run([sys.executable, "-c", "import pixel2gene; print(pixel2gene.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert found == str(REPO / "pixel2gene" / "__init__.py")


def test_the_spatialdata_image_installs_the_extra_pyproject_declares():
    """p2g-spatialdata checks for the extra at its first import; the image must hold the version it is tested with."""
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["spatialdata"]
    installed = requirements("spatialdata")
    for spec in extra:
        req = Requirement(spec)
        assert req.specifier.contains(installed[req.name.lower()]), f"{req.name}=={installed[req.name.lower()]} is not {spec}"
    text = dockerfile("spatialdata")
    assert "COPY containers/spatialdata/requirements.txt ./requirements-spatialdata.txt" in text
    assert "-r requirements.txt -r requirements-spatialdata.txt" in text
