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
              "train-0,1,2": work / "trained", "select": work / "model", "predict": work / "train" / "pred",
              "combine": out / "train"}
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


def test_maps_do_not_depend_on_how_folds_are_grouped_into_tasks(chain, tmp_path):
    """Issue #27 B1: the pipeline trains the folds in tasks (--folds_per_task, lib/Folds.groups) and chooses
    the model's form once, in p2g-select, from every task's folds. With --select auto (the default) the
    model and every map are byte-identical whether the 3 folds train in tasks of 1, 2 or 3: the same tools,
    called as the pipeline calls them, and the same model as p2g-run's."""
    work = chain["out"] / "work"
    trainset = work / "train" / "folds"
    groupings = {"1": ["0", "1", "2"], "2": ["0,1", "2"], "3": ["all"]}  # lib/Folds.groups(3, N)
    maps, models = {}, {}
    for size, groups in groupings.items():
        tasks = []
        for k, folds in enumerate(groups):
            tasks.append(tmp_path / f"trained-{size}-{k}")
            run_tool("p2g-train", "--trainset", trainset, "--out", tasks[-1], "--folds", folds, "--epochs", 60,
                     "--seed", 0, "--threads", 1, "--device", "cpu")
        models[size] = tmp_path / f"model-{size}"
        run_tool("p2g-select", "--trainset", trainset, "--trained", *tasks, "--out", models[size], "--threads", 1)
        pred = tmp_path / f"pred-{size}"
        run_tool("p2g-predict", "--features", work / "test" / f"features-{DEFAULT_ENCODER}",
                 "--mask", work / "test" / "mask", "--model", models[size], "--out", pred, "--threads", 1,
                 "--device", "cpu")
        maps[size] = tmp_path / f"result-{size}"
        run_tool("p2g-combine", "--pred", pred, "--rescaled", work / "test" / "rescale",
                 "--mask", work / "test" / "mask", "--out", maps[size])
    choice = json.loads((models["3"] / "model.json").read_text())["selection"]["choice"]
    assert choice == json.loads((work / "model" / "model.json").read_text())["selection"]["choice"]
    files = sorted(p.relative_to(maps["3"]) for p in maps["3"].rglob("*.npy"))
    assert len(files) > 30  # 30 genes' maps and the trust grids
    for size in ("1", "2"):
        for name in [f"fold-{f:02d}.pt" for f in range(3)] + ["ridge.pt", "colour-ridge.pt", "skill.npy"]:
            assert (models[size] / name).read_bytes() == (models["3"] / name).read_bytes(), (size, name)
        for rel in files:
            assert (maps[size] / rel).read_bytes() == (maps["3"] / rel).read_bytes(), (size, rel)
    for rel in files:  # and p2g-run's, which trains all folds in one task
        assert (maps["3"] / rel).read_bytes() == (chain["out"] / "test" / rel).read_bytes(), rel


def test_select_refuses_tasks_of_different_runs(chain, tmp_path):
    work = chain["out"] / "work"
    trainset = work / "train" / "folds"
    a, b = tmp_path / "a", tmp_path / "b"
    run_tool("p2g-train", "--trainset", trainset, "--out", a, "--folds", "0", "--epochs", 2, "--threads", 1)
    run_tool("p2g-train", "--trainset", trainset, "--out", b, "--folds", "0,1", "--epochs", 2, "--threads", 1)
    proc = run_tool("p2g-select", "--trainset", trainset, "--trained", a, b, "--out", tmp_path / "m", check=False)
    assert proc.returncode == 2 and "fold 0 was trained by two of the given tasks" in proc.stderr
    c = tmp_path / "c"
    run_tool("p2g-train", "--trainset", trainset, "--out", c, "--folds", "1", "--epochs", 2, "--threads", 1,
             "--seed", 1)
    proc = run_tool("p2g-select", "--trainset", trainset, "--trained", a, c, "--out", tmp_path / "m", check=False)
    assert proc.returncode == 2 and "another seed" in proc.stderr and not (tmp_path / "m").exists()
