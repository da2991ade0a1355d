"""What the Nextflow pipeline needs from the tools: samples named by the samplesheet, and a
report built from the small files a cloud task can stage (a result's metadata and mask, the
models' model.json, each step's step.json)."""
import json
import shutil
from pathlib import Path

import pytest

from conftest import run_tool
from pixel2gene.errors import InputError
from pixel2gene.steps import report
from pixel2gene.features import DEFAULT_ENCODER


def stage_like_nextflow(src_prefix: str, task: Path) -> Path:
    """The pipeline stages a folder-prefix sample's files as links in `sample/` of the task."""
    staged = task / "sample"
    staged.mkdir(parents=True)
    for f in Path(src_prefix).iterdir():
        (staged / f.name).symlink_to(f.resolve())
    return staged


def test_rescale_names_the_sample_after_the_samplesheet(synthetic, tmp_path):
    stage_like_nextflow(synthetic["train"], tmp_path)
    run_tool("p2g-rescale", "--prefix", tmp_path / "sample/", "--name", "C2", "--measured", "--out", tmp_path / "rescale")
    assert json.loads((tmp_path / "rescale" / "sample.json").read_text())["name"] == "C2"


def test_rescale_without_a_name_uses_the_folder(synthetic, tmp_path):
    stage_like_nextflow(synthetic["train"], tmp_path)
    run_tool("p2g-rescale", "--prefix", tmp_path / "sample/", "--out", tmp_path / "rescale")
    assert json.loads((tmp_path / "rescale" / "sample.json").read_text())["name"] == "sample"


@pytest.mark.parametrize("name", ["", "a/b", "..", " C2"])
def test_rescale_refuses_a_name_that_is_not_one(synthetic, tmp_path, name):
    stage_like_nextflow(synthetic["train"], tmp_path)
    proc = run_tool("p2g-rescale", "--prefix", tmp_path / "sample/", "--name", name, "--out", tmp_path / "rescale",
                    check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "rescale").exists()


def stamp(folder: Path, step: str, seconds: float) -> Path:
    folder.mkdir(parents=True)
    (folder / "step.json").write_text(json.dumps({"step": step, "seconds": seconds, "finished": "2026-01-01T00:00:00"}))
    return folder / "step.json"


def test_report_steps_accept_stamps_named_by_their_folder(tmp_path):
    rows = report._steps([stamp(tmp_path / "steps" / "train-0,1", "train", 3.5),
                          stamp(tmp_path / "features-effnet-lite2", "features", 1.0).parent])
    assert [(r["step"], r["output"], r["seconds"]) for r in rows] == [
        ("train", "train-0,1", 3.5),
        ("features", f"{tmp_path.name}/features-effnet-lite2", 1.0)]  # a folder is listed as SAMPLE/STEP


def test_report_steps_refuse_a_file_that_is_not_a_stamp(tmp_path):
    bad = tmp_path / "x" / "step.json"
    bad.parent.mkdir()
    bad.write_text("not json")
    with pytest.raises(InputError, match="not a p2g step stamp"):
        report._steps([bad])


def test_report_from_the_small_files_the_pipeline_stages(chain, tmp_path):
    """Everything p2g-report reads, copied without the gene maps, fold weights or step outputs."""
    out, work = chain["out"], chain["out"] / "work"
    (tmp_path / "result").mkdir()
    for name in ("metadata.json", "mask.npy", "skill.tsv"):
        shutil.copy(out / "train" / name, tmp_path / "result" / name)
    (tmp_path / "model01").mkdir()
    shutil.copy(work / "model" / "model.json", tmp_path / "model01" / "model.json")
    labels = {"rescale": work / "train" / "rescale", "folds": work / "train" / "folds",
              "train-0,1,2": work / "model", "predict-0,1,2": work / "train" / "pred", "combine": out / "train"}
    stamps = []
    for label, step_dir in labels.items():
        (tmp_path / "steps" / label).mkdir(parents=True)
        stamps.append(shutil.copy(step_dir / "step.json", tmp_path / "steps" / label / "step.json"))
    run_tool("p2g-report", "--result", tmp_path / "result", "--maps", out / "figures" / "train",
             "--evaluation", out / "evaluation" / "train.held-out", "--model", tmp_path / "model01",
             "--steps", *stamps, "--out", tmp_path / "train.html")
    page = (tmp_path / "train.html").read_text()
    for label in labels:
        assert f">{label}<" in page
    assert "per-gene skill (30 genes" in page


def test_fold_groups_of_the_pipeline_repeat_the_local_run(chain, tmp_path):
    """Issue 15 item 9, pipeline side: training the folds in tasks of 2 and 1 (--folds_per_task 2),
    predicting with each task's models and combining the predictions in fold order gives the fold
    models of one task training all folds bit for bit, and its maps up to float32 rounding of the sum.
    The form is fixed (--select mlp): with --select auto each task chooses its blend on its own folds,
    as docs/usage.md says, so only the fold training itself must repeat."""
    import numpy as np
    import torch

    work = chain["out"] / "work"
    tasks = {"0,1": tmp_path / "model-a", "2": tmp_path / "model-b", "all": tmp_path / "model-all"}
    for folds, out in tasks.items():  # 0,1 and 2: lib/Folds.groups(3, 2)
        run_tool("p2g-train", "--trainset", work / "train" / "folds", "--out", out, "--folds", folds,
                 "--epochs", 60, "--seed", 0, "--threads", 1, "--device", "cpu", "--select", "mlp")
    for f, out in ((0, tasks["0,1"]), (1, tasks["0,1"]), (2, tasks["2"])):
        mine = torch.load(out / f"fold-{f:02d}.pt", weights_only=True)
        local = torch.load(tasks["all"] / f"fold-{f:02d}.pt", weights_only=True)
        assert mine.keys() == local.keys() and all(torch.equal(mine[k], local[k]) for k in mine), f"fold {f}"
    preds = {}
    for name, out in tasks.items():
        preds[name] = tmp_path / f"pred-{out.name}"
        run_tool("p2g-predict", "--features", work / "test" / f"features-{DEFAULT_ENCODER}",
                 "--mask", work / "test" / "mask",
                 "--model", out, "--out", preds[name], "--threads", 1, "--device", "cpu")
    for result, given in (("result", [preds["0,1"], preds["2"]]), ("result-all", [preds["all"]])):
        run_tool("p2g-combine", "--pred", *given, "--rescaled", work / "test" / "rescale",
                 "--mask", work / "test" / "mask", "--out", tmp_path / result)
    genes = (chain["out"] / "test" / "gene-names.txt").read_text().split()
    assert (tmp_path / "result" / "gene-names.txt").read_text().split() == genes
    maps = sorted((tmp_path / "result-all" / "cnts-super").glob("*.npy"))
    assert len(maps) == len(genes)
    for path in maps:
        local, mine = np.load(path), np.load(tmp_path / "result" / "cnts-super" / path.name)
        assert np.array_equal(np.isnan(local), np.isnan(mine))
        np.testing.assert_allclose(mine, local, rtol=1e-5, atol=1e-6, equal_nan=True)
