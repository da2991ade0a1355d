"""Typed step artifacts: each step's files are named in one place, written whole, read back checked."""
import ast
import json
import re
from dataclasses import fields

import numpy as np
import pytest

from conftest import REPO
from pixel2gene.artifacts.base import STAMP, File, Npy, StepFolder, read_stamp
from pixel2gene.artifacts.cells import Cells
from pixel2gene.artifacts.domains import Domains
from pixel2gene.artifacts.evaluation import Evaluation
from pixel2gene.artifacts.features import Features
from pixel2gene.artifacts.genes import Genes
from pixel2gene.artifacts.maps import Maps
from pixel2gene.artifacts.mask import Mask
from pixel2gene.artifacts.model import Model
from pixel2gene.artifacts.predictions import Predictions
from pixel2gene.artifacts.rescaled import Rescaled
from pixel2gene.artifacts.result import Result
from pixel2gene.artifacts.trainset import TrainingSet
from pixel2gene.errors import InputError

FOLDERS = (Rescaled, Mask, Features, Genes, TrainingSet, Model, Predictions, Result, Maps, Evaluation, Domains, Cells)
FILE_NAME = re.compile(r"^[\w.~-]+\.(npy|json|parquet|tsv|txt|pt|png|h5ad|html)$")  # a name, not a bare suffix


def literal_file_names():
    """Every string literal of the package that is a file name, and the modules that write it."""
    where = {}
    for path in (REPO / "pixel2gene").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and FILE_NAME.match(node.value):
                where.setdefault(node.value, set()).add(str(path.relative_to(REPO)))
    return where


def test_each_file_name_is_written_in_one_module_only():
    where = literal_file_names()
    assert "mask.npy" in where and "trainset.json" in where  # the scan sees the names
    shared = {name: sorted(modules) for name, modules in where.items() if len(modules) > 1}
    assert not shared, shared


def test_every_step_folder_name_lives_in_the_artifacts():
    where = literal_file_names()
    for folder in FOLDERS:
        for name, attr in vars(folder).items():
            if isinstance(attr, File):
                home = f"pixel2gene/artifacts/{folder.__module__.rsplit('.', 1)[1]}.py"
                assert where[attr.name] <= {"pixel2gene/artifacts/base.py", home}, attr.name


def test_steps_name_their_upstream_folders_by_class():
    from pixel2gene.steps import (cells, combine, domains, evaluate, export, features, folds, mask, maps, predict,
                                  report, train)
    for module in (cells, combine, domains, evaluate, export, features, folds, mask, maps, predict, report, train):
        for f in fields(module.Args):
            if "upstream" in f.metadata:
                assert f.metadata["upstream"] in FOLDERS, (module.__name__, f.name)


class Toy(StepFolder):
    STEP = "toy"
    values = Npy("values.npy")


def test_a_folder_is_published_whole_or_not_at_all(tmp_path):
    with pytest.raises(RuntimeError):
        with Toy.create(tmp_path / "out", {"a": 1}) as folder:
            folder.values.write(np.arange(3))
            raise RuntimeError("killed")
    assert not (tmp_path / "out").exists() and not list(tmp_path.iterdir())
    with Toy.create(tmp_path / "out", {"a": 1}) as folder:
        folder.values.write(np.arange(3))
    assert read_stamp(tmp_path / "out")["format"] == Toy.FORMAT
    assert np.array_equal(Toy.open(tmp_path / "out").values.read(), np.arange(3))
    assert Toy.is_finished(tmp_path / "out", {"a": 1}) and not Toy.is_finished(tmp_path / "out", {"a": 2})


def test_a_folder_of_another_format_is_recomputed_and_never_read(tmp_path):
    with Toy.create(tmp_path / "out", {"a": 1}) as folder:
        folder.values.write(np.arange(3))
    stamp = json.loads((tmp_path / "out" / STAMP).read_text())
    stamp["format"] = Toy.FORMAT + 1
    (tmp_path / "out" / STAMP).write_text(json.dumps(stamp))
    assert not Toy.is_finished(tmp_path / "out", {"a": 1})  # so the step runs again, replacing it
    with pytest.raises(InputError, match="another format .* run p2g-toy again"):
        Toy.open(tmp_path / "out", "--toy")
    with pytest.raises(InputError, match="is a p2g-toy output, not a p2g-rescale one"):
        Rescaled.open(tmp_path / "out", "--rescaled")


@pytest.mark.parametrize("damage", ["pickled", "truncated", "not npy", "missing"])
def test_a_damaged_file_is_named_with_the_fix_and_never_loaded(tmp_path, damage):
    with Toy.create(tmp_path / "out", {}) as folder:
        folder.values.write(np.arange(1000))
    path = tmp_path / "out" / "values.npy"
    if damage == "pickled":
        np.save(path, np.array([{"run": "code"}], dtype=object), allow_pickle=True)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "not npy":
        path.write_text("hello")
    else:
        path.unlink()
    with pytest.raises(InputError) as err:
        Toy.open(tmp_path / "out").values.read()
    assert str(path) in str(err.value) and f"delete the folder {tmp_path / 'out'} and run p2g-toy again" in str(err.value)


def test_a_users_own_folder_is_never_called_ours_or_to_be_deleted(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "values.npy").write_text("my notes")
    for folder in (tmp_path / "mine", tmp_path / "empty"):
        with pytest.raises(InputError) as err:
            Toy(folder).values.read()
        assert "not a p2g-toy output" in str(err.value) and "give the folder that p2g-toy wrote" in str(err.value)
        assert "delete" not in str(err.value)


def test_the_selected_model_takes_the_place_of_the_model_p2g_train_wrote_before(tmp_path):
    """Until 0.2.0 p2g-run's work/model was p2g-train's (format 2); now p2g-select writes it. A re-run into an
    old results folder replaces that folder, and nothing else: not a current p2g-train output, not another
    step's."""
    from pixel2gene.artifacts.base import check_replaceable

    def folder(name, stamp):
        (tmp_path / name).mkdir()
        (tmp_path / name / "step.json").write_text(json.dumps(stamp))
        return tmp_path / name

    check_replaceable(folder("old", {"step": "train", "format": 2}), Model.STEP)
    for name, stamp in (("trained", {"step": "train", "format": 3}), ("mask", {"step": "mask", "format": 2})):
        with pytest.raises(InputError, match=f"holds a p2g-{stamp['step']} output, which p2g-select would replace"):
            check_replaceable(folder(name, stamp), Model.STEP)
