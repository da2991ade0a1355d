"""The workflow's dataflow, run in memory (tests/nextflow/dataflow.groovy): no Nextflow here,
so channels are lists and processes are checked against their declarations.

Every task must receive inputs shaped as its process declares them (tuple sizes, files
where paths are declared); each process runs as many tasks as the samplesheet implies;
and, with tasks finishing in a different random order each run, every task must receive
exactly the same inputs (issue 15 item 8: gathered lists are sorted).
"""
import csv
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO, need_groovy

GROOVY_LIB = os.environ.get("P2G_GROOVY_LIB", str(REPO / ".ci/tools/node_modules/npm-groovy-lint/lib/java/groovy/lib"))
JARS = [os.path.join(GROOVY_LIB, "groovy-4.0.26.jar"), os.path.join(GROOVY_LIB, "groovy-json-4.0.26.jar")]
IMPORTED = ["cnts.h5ad", "locs-raw.parquet", "he-raw.tif", "radius-raw.txt", "pixel-size-raw.txt", "pixel-size.txt"]
PARAMS = {"n_folds": 10, "fold_block_um": 512, "device": "cuda:1", "domains": 8, "folds_per_task": 4, "encoder_weights": None, "gene_list": None, "outdir": "results",
          "trace_report_suffix": "2026-01-01_00-00-00"}


# What p2g-import reads of the sheet's 10x outputs (V: a full-resolution H&E, H: 16 µm bins and lowres)
VISIUM_READ = ["filtered_feature_bc_matrix.h5", "spatial/scalefactors_json.json", "spatial/tissue_hires_image.png",
               "spatial/tissue_positions.csv"]
HD_READ = ["binned_outputs/square_016um/" + name for name in (
    "filtered_feature_bc_matrix/matrix.mtx.gz", "spatial/scalefactors_json.json", "spatial/tissue_lowres_image.png",
    "spatial/tissue_positions.parquet")]
XENIUM_READ = ["cell_feature_matrix.h5", "cells.parquet", "experiment.xenium"]


def request(rows, sheet, seeds, params=PARAMS, root=REPO):
    return {"workflow": str(root / "workflows/pixel2gene.nf"), "name": "PIXEL2GENE", "lib": str(root / "lib"),
            "params": params, "project_dir": str(root), "rows": rows, "sheet": str(sheet), "seeds": seeds,
            "globs": {"imported/*": IMPORTED}}


def emulate(*requests):
    """One JVM for every request (starting Java is the slow part); per request, one run per seed."""
    need_groovy(JARS)
    out = subprocess.run(["java", "-cp", os.pathsep.join(JARS), "groovy.ui.GroovyMain",
                          str(REPO / "tests/nextflow/dataflow.groovy")],
                         input=json.dumps(list(requests)), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def touch(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A samplesheet with every kind of row, and the files its paths name."""
    root = tmp_path_factory.mktemp("sheet")
    for name in ("he-raw.jpg", "cnts.tsv", "locs-raw.tsv", "radius-raw.txt", "pixel-size-raw.txt"):
        touch(root / "data" / "A" / name)
        touch(root / "data" / f"B-{name}")
    for name in ("he-raw.mrxs", "he-raw/Slidedat.ini", "pixel-size-raw.txt"):  # a MIRAX slide: file and folder
        touch(root / "data" / "C" / name)
    touch(root / "data" / "C" / "truth" / "cnts.tsv")
    touch(root / "data" / "C" / "truth" / "locs-raw.tsv")
    touch(root / "data" / "C" / "truth" / "radius-raw.txt", "100\n")
    touch(root / "masks" / "C.png")
    touch(root / "cells" / "C.geojson")
    # 10x outputs: the files p2g-import reads, beside ones it does not (a BAM, transcripts), which stay unstaged
    for name in VISIUM_READ + ["possibly_sorted_genome_bam.bam"]:
        touch(root / "visium" / "outs" / name)
    for name in HD_READ + ["spatial/tissue_lowres_image.png", "binned_outputs/square_008um/spatial/x.parquet"]:
        touch(root / "hd" / "outs" / name)
    for name in XENIUM_READ + ["transcripts.parquet", "morphology_focus/ch0000_dapi.ome.tif", "cell_boundaries.parquet"]:
        touch(root / "xenium" / "bundle" / name)
    for name in HD_READ:
        if not name.endswith("scalefactors_json.json"):
            touch(root / "hd-broken" / "outs" / name)
    touch(root / "images" / "V.mrxs")  # a MIRAX slide: the file and its data folder
    touch(root / "images" / "V" / "Slidedat.ini")
    touch(root / "images" / "X.ome.tif")
    touch(root / "xenium" / "bundle" / "he_imagealignment.csv")
    rows = [
        {"sample": "A", "role": "train", "prefix": "data/A"},  # a folder without its '/'
        {"sample": "A", "role": "predict", "prefix": "data/A/"},
        {"sample": "B", "role": "train", "prefix": "data/B-"},
        {"sample": "C", "role": "predict", "prefix": "data/C/", "truth": "data/C/truth/", "mask": "masks/C.png",
         "segmentation": "cells/C.geojson"},
        {"sample": "V", "role": "predict", "prefix": "visium/outs/", "format": "visium", "image": "images/V.mrxs"},
        {"sample": "H", "role": "train", "prefix": "hd/outs/", "format": "visium-hd", "image": "lowres", "bin_size": 16},
        {"sample": "X", "role": "predict", "prefix": "xenium/bundle/", "format": "xenium", "image": "images/X.ome.tif",
         "alignment": "xenium/bundle/he_imagealignment.csv", "segmentation": "xenium/bundle/cell_boundaries.parquet"},
    ]
    return {"root": root, "rows": rows, "sheet": root / "samplesheet.csv"}


@pytest.fixture(scope="module")
def emulated(project, tmp_path_factory):
    """The project's sheet (3 completion orders), the test profile's sheet, and a workflow whose
    gather of the training tasks is not sorted (4 completion orders)."""
    mutant = tmp_path_factory.mktemp("unsorted")
    for part in ("workflows", "modules", "lib", "assets"):
        shutil.copytree(REPO / part, mutant / part)
    wf = mutant / "workflows/pixel2gene.nf"
    text = wf.read_text()
    gather = r"(ch_trained = P2G_TRAIN\.out\.trained\s*)\.toSortedList \{ a, b -> Folds\.compare\(a\[0\], b\[0\]\) \}"
    unsorted = re.sub(gather, r"\1.toSortedList { a, b -> 0 }", text)  # completion order, as toList would keep
    assert unsorted != text
    wf.write_text(unsorted)
    test_rows = list(csv.DictReader((REPO / "assets/samplesheet_test.csv").open()))
    missing = [dict(r, mask="masks/none.png") if r["sample"] == "C" else r for r in project["rows"]]
    broken = [dict(r, prefix="hd-broken/outs/") if r["sample"] == "H" else r for r in project["rows"]]
    runs, test_profile, unsorted_runs, missing_runs, broken_runs = emulate(
        request(project["rows"], project["sheet"], seeds=[1, 2, 3]),
        request(test_rows, REPO / "assets/samplesheet_test.csv", seeds=[7], params=dict(PARAMS, n_folds=3, folds_per_task=2)),
        request(project["rows"], project["sheet"], seeds=[1, 2, 3, 4], root=mutant),
        request(missing, project["sheet"], seeds=[1]),
        request(broken, project["sheet"], seeds=[1]))
    return {"runs": runs, "test_profile": test_profile[0], "unsorted": unsorted_runs, "missing": missing_runs[0],
            "broken_10x": broken_runs[0]}


@pytest.fixture(scope="module")
def runs(emulated):
    return emulated["runs"]


def counts(run):
    return {name: len(tasks) for name, tasks in run["tasks"].items()}


def test_every_task_gets_inputs_shaped_as_its_process_declares(runs):
    for run in runs:
        assert run["errors"] == []


def test_each_process_runs_once_per_sample_or_fold_group(runs):
    # 6 samples (3 imported), 3 train (A, B, H), 4 predict (A, C, V, X), 10 folds in tasks of 4 -> 3 groups
    assert counts(runs[0]) == {"P2G_IMPORT": 3, "P2G_RESCALE": 6, "P2G_MASK": 6, "P2G_FEATURES": 6, "P2G_GENES": 1,
                               "P2G_FOLDS": 3, "P2G_TRAIN": 3, "P2G_SELECT": 1, "P2G_PREDICT": 4, "P2G_COMBINE": 4,
                               "P2G_EXPORT": 4, "P2G_DOMAINS": 4, "P2G_CELLS": 2, "P2G_SPATIALDATA": 0,
                               "P2G_MAPS": 4, "P2G_EVALUATE": 2, "P2G_REPORT": 4}


def canonical(run):
    return {name: sorted(json.dumps(t, sort_keys=True) for t in tasks) for name, tasks in run["tasks"].items()}


def test_task_inputs_do_not_depend_on_the_order_tasks_finish(runs):
    first = canonical(runs[0])
    for run in runs[1:]:
        changed = [name for name, tasks in canonical(run).items() if tasks != first[name]]
        assert not changed, f"inputs change with task completion order: {changed}"


def task(run, process, sample):
    return next(t for t in run["tasks"][process] if t["inputs"][0][0]["id"] == sample)


def test_samples_reach_their_tasks_with_their_files(runs, project):
    run, data = runs[0], str(project["root"] / "data")
    a = task(run, "P2G_RESCALE", "A")["inputs"][0]
    assert a[0]["prefix"] == f"{data}/A/" and sorted(os.path.basename(f) for f in a[1]) == sorted(
        ["he-raw.jpg", "cnts.tsv", "locs-raw.tsv", "radius-raw.txt", "pixel-size-raw.txt"])
    b = task(run, "P2G_RESCALE", "B")["inputs"][0]
    assert b[0]["stem"] == "B-" and all(os.path.basename(f).startswith("B-") for f in b[1])
    genes, = run["tasks"]["P2G_GENES"]
    assert [f.split("/")[-1] for f in genes["inputs"][0]] == ["cnts.tsv", "B-cnts.tsv", "cnts.h5ad"]  # A, B, H
    x = task(run, "P2G_IMPORT", "X")["inputs"][0]
    assert x[3] == [f"{project['root']}/images/X.ome.tif"] and x[4].endswith("he_imagealignment.csv")
    v = task(run, "P2G_IMPORT", "V")["inputs"][0]
    assert v[3] == [f"{project['root']}/images/V.mrxs", f"{project['root']}/images/V"]
    h = task(run, "P2G_IMPORT", "H")["inputs"][0]
    assert h[0]["bin_size"] == 16 and len(h[3]) == 1 and h[3][0].endswith("assets/NO_IMAGE")
    c_mask = task(run, "P2G_MASK", "C")["inputs"][0]
    assert c_mask[2].endswith("masks/C.png")
    c = task(run, "P2G_RESCALE", "C")["inputs"][0]  # a MIRAX slide opens only with its data folder beside it
    assert [f[len(data):] for f in c[1]] == ["/C/he-raw", "/C/he-raw.mrxs", "/C/pixel-size-raw.txt"]


def test_imports_get_only_the_files_p2g_import_reads(runs, project):
    """#27 A6: not the whole 10x folder (its BAM, transcripts, other bin sizes), and each file's place in it."""
    root, run = project["root"], runs[0]
    for sample, outs, read in (("V", "visium/outs", VISIUM_READ), ("X", "xenium/bundle", XENIUM_READ),
                               ("H", "hd/outs", [n.replace("/matrix.mtx.gz", "") for n in HD_READ])):
        _, files, relpaths = task(run, "P2G_IMPORT", sample)["inputs"][0][:3]
        assert relpaths == sorted(read), sample
        assert files == [f"{root}/{outs}/{rel}" for rel in relpaths], sample


def test_a_10x_output_without_a_file_it_needs_stops_the_run_before_any_task(emulated, project):
    run = emulated["broken_10x"]
    assert run["tasks"] == {}
    assert (f"sample 'H': the visium-hd output {project['root']}/hd-broken/outs/ has no "
            "binned_outputs/square_016um/spatial/scalefactors_json.json") in run["errors"][0]


def test_training_tasks_are_gathered_in_fold_order_and_one_model_serves_every_step(runs):
    """#27 B1: the form is chosen once, by P2G_SELECT, from every training task's folds (in fold order); every
    prediction and the held-out evaluation use its one model."""
    run = runs[0]
    folds_of = {t["dir"]: t["inputs"][1] for t in run["tasks"]["P2G_TRAIN"]}
    select, = run["tasks"]["P2G_SELECT"]
    trainsets, trained = select["inputs"]
    assert [folds_of[t.rsplit("/", 1)[0]] for t in trained] == ["0,1,2,3", "4,5,6,7", "8,9"]
    assert trainsets == run["tasks"]["P2G_TRAIN"][0]["inputs"][0]
    model = select["dir"] + "/model"
    assert all(t["inputs"][0][3] == model for t in run["tasks"]["P2G_PREDICT"])
    assert all(len(t["inputs"][0][1]) == 1 for t in run["tasks"]["P2G_COMBINE"])
    held_out = task(run, "P2G_EVALUATE", "A")["inputs"][0]
    assert held_out[7] == [model]


def test_settings_reach_the_modules_as_inputs_not_params(runs):
    """#27, nf-core conventions: modules read no params; the workflow hands each the device and fold settings."""
    run = runs[0]
    for process in ("P2G_FEATURES", "P2G_TRAIN", "P2G_PREDICT"):
        assert {t["inputs"][-1] for t in run["tasks"][process]} == {"cuda:1"}, process
    assert {tuple(t["inputs"][2:]) for t in run["tasks"]["P2G_FOLDS"]} == {(10, 512)}


def test_every_task_reports_its_versions_on_the_topic(runs):
    """#27: versions travel on the `versions` topic (Nextflow 25.04+), one (process, tool, version) per task."""
    run = runs[0]
    reported = {}
    for process, tool, version in run["topics"]["versions"]:
        reported.setdefault(process.split(":")[-1], []).append(tool)
    for process, tasks in run["tasks"].items():
        assert reported.get(process, []).count("pixel2gene") == len(tasks), process
    assert {p for p, tools in reported.items() if "torch" in tools} == {"P2G_FEATURES", "P2G_TRAIN", "P2G_SELECT",
                                                                         "P2G_PREDICT"}


def test_each_report_lists_every_step_of_its_sample(runs):
    run = runs[0]
    shared = ["genes", "train-0,1,2,3", "train-4,5,6,7", "train-8,9", "select"]
    per_sample = ["rescale", "mask", "features", "predict", "combine", "maps", "domains"]
    want = {"A": per_sample + shared + ["folds", "evaluate-held-out"],
            "C": per_sample + shared + ["evaluate-truth", "cells"], "V": per_sample + shared,
            "X": per_sample + shared + ["cells"]}
    for sample, labels in want.items():
        report = task(run, "P2G_REPORT", sample)["inputs"]
        meta, summary, maps, evaluations, step_labels, stamps, domains = report[0]
        assert [d.rsplit("/", 1)[1] for d in domains] == ["domains.json", "top-genes.tsv", "domains.png", "step.json"]
        assert step_labels == sorted(labels)
        assert all(s.endswith("/step.json") for s in stamps) and len(stamps) == len(labels)
        assert [s.rsplit("/", 1)[1] for s in summary] == ["metadata.json", "mask.npy", "skill.tsv"]
        assert all(c.endswith("/model/model.json") for c in report[1])


def test_the_test_profile_sheet_flows(emulated):
    """assets/samplesheet_test.csv with the test profile's settings, as nf-schema hands its rows over."""
    run = emulated["test_profile"]
    assert run["errors"] == []
    assert counts(run) == {"P2G_IMPORT": 0, "P2G_RESCALE": 2, "P2G_MASK": 2, "P2G_FEATURES": 2, "P2G_GENES": 1,
                           "P2G_FOLDS": 1, "P2G_TRAIN": 2, "P2G_SELECT": 1, "P2G_PREDICT": 2, "P2G_COMBINE": 2,
                           "P2G_EXPORT": 2, "P2G_DOMAINS": 2, "P2G_CELLS": 0, "P2G_SPATIALDATA": 0,
                           "P2G_MAPS": 2, "P2G_EVALUATE": 1, "P2G_REPORT": 2}


def test_the_order_check_catches_an_unsorted_gather(emulated):
    """The same emulation of a workflow whose training tasks are gathered unsorted finds it."""
    combined = [canonical(run)["P2G_SELECT"] for run in emulated["unsorted"]]
    assert any(c != combined[0] for c in combined[1:])


def test_a_missing_path_stops_the_run_before_any_task(emulated, project):
    run = emulated["missing"]
    assert run["tasks"] == {}
    assert f"sample 'C': mask {project['root']}/masks/none.png does not exist" in run["errors"][0]


def test_augment_given_on_the_command_line_is_a_number(project):
    """#27 A7: command-line params stay strings under the strict parser; '--augment 0' is '0', true in Groovy,
    and used to turn augmentation on. '0' adds no copies, '2' two per training sample."""
    runs = emulate(request(project["rows"], project["sheet"], seeds=[5], params=dict(PARAMS, augment="0")),
                   request(project["rows"], project["sheet"], seeds=[5], params=dict(PARAMS, augment="2")))
    (none,), (two,) = runs
    assert none["errors"] == [] and two["errors"] == []
    assert counts(none)["P2G_FEATURES"] == 6 and counts(two)["P2G_FEATURES"] == 6 + 6


def test_every_numeric_param_the_workflow_reads_may_be_a_string(project):
    """#27: under the strict parser `--n_folds 6` arrives as '6'. Every numeric param the workflow reads gives
    the same tasks as a string as it does as a number."""
    workflow = (REPO / "workflows/pixel2gene.nf").read_text()
    schema = json.loads((REPO / "nextflow_schema.json").read_text())
    numeric = {name for group in schema["$defs"].values() for name, prop in group["properties"].items()
               if prop.get("type") in ("integer", "number") and f"params.{name}" in workflow}
    assert {"n_folds", "folds_per_task", "fold_block_um", "augment"} <= numeric
    values = {"n_folds": 6, "folds_per_task": 4, "fold_block_um": 512, "augment": 1, "domains": 3}
    assert numeric <= set(values), f"give a value to {sorted(numeric - set(values))}"
    as_numbers = dict(PARAMS, **values)
    as_strings = dict(PARAMS, **{k: str(v) for k, v in values.items()})
    (a,), (b,) = emulate(request(project["rows"], project["sheet"], seeds=[5], params=as_numbers),
                         request(project["rows"], project["sheet"], seeds=[5], params=as_strings))
    assert a["errors"] == [] and b["errors"] == []
    assert counts(a) == counts(b) and counts(a)["P2G_TRAIN"] == 2
    folds = lambda run: sorted(t["inputs"][1] for t in run["tasks"]["P2G_TRAIN"])
    assert folds(a) == folds(b) == ["0,1,2,3", "4,5"]


def test_cells_are_summed_where_the_sheet_gives_a_segmentation(runs):
    """#28: P2G_CELLS for the predict rows with a segmentation: a GeoJSON alone; Xenium boundaries with the
    experiment.xenium beside them and the sample's H&E alignment."""
    run = runs[0]
    c = task(run, "P2G_CELLS", "C")["inputs"][0]
    assert [os.path.basename(f) for f in c[3]] == ["C.geojson"] and c[4] == "C.geojson"
    assert c[5].endswith("assets/NO_ALIGNMENT")
    x = task(run, "P2G_CELLS", "X")["inputs"][0]
    assert [os.path.basename(f) for f in x[3]] == ["cell_boundaries.parquet", "experiment.xenium"]
    assert x[4] == "cell_boundaries.parquet" and x[5].endswith("he_imagealignment.csv")
    for sample in ("A", "C", "V", "X"):
        export = task(run, "P2G_EXPORT", sample)["inputs"][0]
        assert export[4] == task(run, "P2G_DOMAINS", sample)["dir"] + "/domains"


def test_no_domains_with_domains_zero(project):
    """--domains 0 (a string from the command line): no P2G_DOMAINS task; export and report are told so."""
    (run,) = emulate(request(project["rows"], project["sheet"], seeds=[2], params=dict(PARAMS, domains="0")))[0]
    assert run["errors"] == [] and counts(run)["P2G_DOMAINS"] == 0
    assert all(t["inputs"][0][4].endswith("assets/NO_DOMAINS") for t in run["tasks"]["P2G_EXPORT"])
    assert all([d.rsplit("/", 1)[1] for d in t["inputs"][0][6]] == ["NO_DOMAINS"] for t in run["tasks"]["P2G_REPORT"])
    assert all("domains" not in t["inputs"][0][4] for t in run["tasks"]["P2G_REPORT"])


def test_spatialdata_stores_come_from_each_predicted_samples_own_he_raw(project):
    """#28: --spatialdata (a string from the command line) runs P2G_SPATIALDATA for every predicted sample, with its
    domains, its cells where the sheet gives a segmentation, and its he-raw staged again (a MIRAX slide with its
    folder; an imported one as p2g-import linked it)."""
    (run,) = emulate(request(project["rows"], project["sheet"], seeds=[3], params=dict(PARAMS, spatialdata="true")))[0]
    assert run["errors"] == [] and counts(run)["P2G_SPATIALDATA"] == 4
    data = str(project["root"] / "data")
    for sample in ("A", "C", "V", "X"):
        meta, result, rescaled, domains, cells, he_raw, linked = task(run, "P2G_SPATIALDATA", sample)["inputs"][0]
        assert result == task(run, "P2G_COMBINE", sample)["dir"] + "/result"
        assert rescaled == task(run, "P2G_RESCALE", sample)["dir"] + "/rescale"
        assert domains == task(run, "P2G_DOMAINS", sample)["dir"] + "/domains"
        assert cells == (task(run, "P2G_CELLS", sample)["dir"] + "/cells" if sample in ("C", "X")
                         else f"{REPO}/assets/NO_CELLS")
        assert linked == []
    assert task(run, "P2G_SPATIALDATA", "A")["inputs"][0][5] == [f"{data}/A/he-raw.jpg"]
    assert task(run, "P2G_SPATIALDATA", "C")["inputs"][0][5] == [f"{data}/C/he-raw.mrxs", f"{data}/C/he-raw"]
    assert task(run, "P2G_SPATIALDATA", "V")["inputs"][0][5] == [task(run, "P2G_IMPORT", "V")["dir"] + "/imported/he-raw.tif"]
    (off,) = emulate(request(project["rows"], project["sheet"], seeds=[3], params=dict(PARAMS, spatialdata="false")))[0]
    assert off["errors"] == [] and counts(off)["P2G_SPATIALDATA"] == 0


def test_the_dataflow_runs_under_every_profile(project):
    """#27: each profile's own params (the test profile's folds, the gpu profile's device, ...) as the config
    sets them, on the sheet with every kind of row: every task gets inputs shaped as its process declares."""
    from test_pipeline_static import PROFILES, groovy, literal
    ast = groovy("nf_ast.groovy", "nextflow.config", "conf/test.config")
    settings = ast["nextflow.config"]["config"]["settings"] + [
        dict(s, full="profiles.test." + s["full"]) for s in ast["conf/test.config"]["config"]["settings"]]
    requests, names = [], sorted(PROFILES)
    for profile in names:
        own = {s["full"].split(".", 3)[3]: literal(s["value"]) for s in settings
               if s["full"].startswith(f"profiles.{profile}.params.")}
        own.pop("input", None)  # the sheet is the request's own
        assert all(v is not None for v in own.values()), (profile, own)
        requests.append(request(project["rows"], project["sheet"], seeds=[3],
                                params=dict(PARAMS, **{k: v[0] for k, v in own.items()})))
    changed = {p for p in names if any(s["full"].startswith(f"profiles.{p}.params.") for s in settings)}
    assert {"test", "gpu"} <= changed
    for profile, (run,) in zip(names, emulate(*requests)):
        assert run["errors"] == [], profile
        assert run["tasks"]["P2G_REPORT"], profile


def test_colour_augmented_copies_train_beside_their_sample(project):
    """params.augment = 2: each training sample's copies get features and folds of their own, the training
    tasks get every trainset in (sample, copy) order, and nothing downstream sees a copy."""
    (run,), = emulate(request(project["rows"], project["sheet"], seeds=[5], params=dict(PARAMS, augment=2)))
    assert run["errors"] == []
    n = counts(run)  # 3 training samples (A, B, H) x 2 copies on top of the runs without augmentation
    assert n["P2G_FEATURES"] == 6 + 6 and n["P2G_FOLDS"] == 3 + 6 and n["P2G_PREDICT"] == 4
    copies = sorted((t["inputs"][0][0]["id"], t["inputs"][0][0].get("copy", 0)) for t in run["tasks"]["P2G_FOLDS"])
    assert copies == [(s, k) for s in ("A", "B", "H") for k in (0, 1, 2)]
    for t in run["tasks"]["P2G_FOLDS"]:  # a copy's folds read the copy's features with its sample's files
        meta, rescaled, mask, features = t["inputs"][0][:4]
        feat = next(f for f in run["tasks"]["P2G_FEATURES"] if f["dir"] in str(features))
        assert feat["inputs"][0][0] == meta and str(rescaled) == str(feat["inputs"][0][1])
    trainsets = run["tasks"]["P2G_TRAIN"][0]["inputs"][0]
    assert len(trainsets) == 9
    for process in ("P2G_PREDICT", "P2G_MAPS", "P2G_EVALUATE", "P2G_REPORT"):
        assert not any("copy" in json.dumps(t["inputs"]) for t in run["tasks"][process]), process


def test_predicting_a_trained_sample_too_keeps_every_training_task(project):
    """#27 B2: a task's hash covers its meta, so adding a predict row (and a truth prefix) for samples that
    already trained must leave their import, rescale, mask, features, genes, folds, training and selection
    tasks' inputs as they were: -resume then reuses all of training."""
    more = project["rows"] + [
        {"sample": "B", "role": "predict", "prefix": "data/B-", "truth": "data/C/truth/"},
        {"sample": "H", "role": "predict", "prefix": "hd/outs/", "format": "visium-hd", "image": "lowres",
         "bin_size": 16},
    ]
    (base,), (grown,) = emulate(request(project["rows"], project["sheet"], seeds=[3]),
                                request(more, project["sheet"], seeds=[3]))
    assert base["errors"] == [] and grown["errors"] == []
    before, after = canonical(base), canonical(grown)
    for process in ("P2G_IMPORT", "P2G_RESCALE", "P2G_MASK", "P2G_FEATURES", "P2G_GENES", "P2G_FOLDS", "P2G_TRAIN",
                    "P2G_SELECT"):
        assert after[process] == before[process], process
    assert counts(grown)["P2G_PREDICT"] == counts(base)["P2G_PREDICT"] + 2
    kinds = {t["inputs"][0][0]["truth_kind"]: t["inputs"][0] for t in grown["tasks"]["P2G_EVALUATE"]
             if t["inputs"][0][0]["id"] == "B"}
    assert sorted(kinds) == ["held-out", "truth"] and kinds["truth"][4].endswith("C/truth/cnts.tsv")
