"""Unit tests of the pipeline's Groovy helpers in lib/, run with the Groovy 4 jar (no Nextflow).

lib/Samplesheet.groovy turns samplesheet rows into samples (paths resolved against the
sheet's location as a URI, existing directories as folder prefixes, one error line per
problem), lib/Folds.groovy splits and orders folds, lib/LaunchChecks.groovy checks the
settings an executor needs, lib/TenxInputs.groovy finds the files of a 10x output that
p2g-import reads.
"""
import json
import os
import re
import subprocess

import pytest

from conftest import REPO, need_groovy

GROOVY_LIB = os.environ.get("P2G_GROOVY_LIB", str(REPO / ".ci/tools/node_modules/npm-groovy-lint/lib/java/groovy/lib"))
JARS = [os.path.join(GROOVY_LIB, "groovy-4.0.26.jar"), os.path.join(GROOVY_LIB, "groovy-json-4.0.26.jar")]


def run_calls(calls):
    """[(class, method, args), ...] -> results; an exception comes back as {'error': message}."""
    need_groovy(JARS)
    payload = json.dumps([{"class": c, "method": m, "args": list(a)} for c, m, a in calls])
    out = subprocess.run(["java", "-cp", os.pathsep.join(JARS), "groovy.ui.GroovyMain",
                          str(REPO / "tests/nextflow/lib_call.groovy"), str(REPO / "lib")],
                         input=payload, capture_output=True, text=True, check=True)
    return [r.get("result", r) if "error" not in r else r for r in json.loads(out.stdout)]


CASES = {}  # test name -> its calls; one JVM answers them all (starting Java is the slow part)


def calls(name, *items):
    CASES[name] = list(items)
    return name


@pytest.fixture(scope="module")
def answers():
    names = list(CASES)
    flat = run_calls([c for n in names for c in CASES[n]])
    out, i = {}, 0
    for n in names:
        out[n] = flat[i:i + len(CASES[n])]
        i += len(CASES[n])
    return out


RESOLVE = [  # (path in the sheet, the sheet's location) -> resolved
    ("data/C2/", "s3://bucket/runs/samplesheet.csv", "s3://bucket/runs/data/C2/"),
    ("data/C2-", "gs://bucket/runs/samplesheet.csv", "gs://bucket/runs/data/C2-"),
    ("../data/C2/", "az://container/runs/x/samplesheet.csv", "az://container/runs/data/C2/"),
    ("./C2/./", "s3://bucket/samplesheet.csv", "s3://bucket/C2/"),
    ("data/C2/", "/home/me/project/samplesheet.csv", "/home/me/project/data/C2/"),
    ("data/C2/", "file:///home/me/samplesheet.csv", "file:///home/me/data/C2/"),
    ("data//C2", "/p/sheet.csv", "/p/data/C2"),
    ("data/C2/", "samplesheet.csv", "data/C2/"),
    ("s3://other/C2/", "/p/sheet.csv", "s3://other/C2/"),
    ("/abs/C2/", "s3://bucket/sheet.csv", "/abs/C2/"),
    ("mask.png", "https://host.org/a/sheet.csv", "https://host.org/a/mask.png"),
]


RESOLVING = calls("resolve", *[("Samplesheet", "resolve", (p, sheet)) for p, sheet, _ in RESOLVE])


def test_paths_resolve_against_the_sheets_location_as_a_uri(answers):
    """Defect 3: the old resolver joined with Path.parent.toString(), which turns s3://b/x into s3:/b/x."""
    assert answers[RESOLVING] == [want for _, _, want in RESOLVE]


ABOVE = calls("above", ("Samplesheet", "resolve", ("../../C2/", "s3://bucket/runs/sheet.csv")))


def test_a_path_above_the_buckets_root_is_an_error(answers):
    result, = answers[ABOVE]
    assert "climbs above the root" in result["error"]


FOLDER = calls("folder", ("Samplesheet", "read", ([{"sample": "C2", "role": "train", "prefix": "data/C2"},
                                                   {"sample": "C2", "role": "predict", "prefix": "data/C2/"},
                                                   {"sample": "C3", "role": "predict", "prefix": "data/C3-"}],
                                                  "/p/sheet.csv", {"dirs": ["/p/data/C2"]})))


def test_an_existing_directory_is_a_folder_prefix(answers):
    """Defect 6: data/C2 naming a folder globbed data/C2* (C2-old/, C2.txt, ...) instead of its files."""
    result, = answers[FOLDER]
    assert result["errors"] == []
    c2, c3 = result["samples"]
    assert (c2["id"], c2["prefix"], c2["stem"], c2["train"], c2["predict"]) == ("C2", "/p/data/C2/", "", True, True)
    assert (c3["id"], c3["prefix"], c3["stem"], c3["train"]) == ("C3", "/p/data/C3-", "C3-", False)


COLUMNS = calls("columns", ("Samplesheet", "read", (
    [{"sample": "b", "role": "predict", "prefix": "b/", "mask": "m.png", "truth": "t/", "format": []},
     {"sample": "a", "role": "train", "prefix": "outs/", "format": "visium-hd", "image": "lowres", "bin_size": 16},
     {"sample": "c", "role": "train", "prefix": "x/", "format": "xenium", "image": "he.ome.tif",
      "alignment": "he_imagealignment.csv"}], "s3://k/s.csv", {"dirs": []})))


def test_samples_come_sorted_by_id_with_every_column(answers):
    result, = answers[COLUMNS]
    assert result["errors"] == []
    a, b, c = result["samples"]
    assert [s["id"] for s in result["samples"]] == ["a", "b", "c"]
    assert (a["format"], a["image"], a["bin_size"], a["stem"]) == ("visium-hd", "lowres", 16, "")
    assert (b["format"], b["mask"], b["truth"]) == ("seed", "s3://k/m.png", "s3://k/t/")
    assert (c["image"], c["alignment"]) == ("s3://k/he.ome.tif", "s3://k/he_imagealignment.csv")


BAD_SHEETS = [  # rows -> a phrase of the error
    ([{"sample": "C 2", "role": "train", "prefix": "a/"}], "may hold only letters"),
    ([{"sample": "a/b", "role": "train", "prefix": "a/"}], "may hold only letters"),
    ([{"sample": "figures", "role": "predict", "prefix": "a/"}], "used by the pipeline's own results"),
    ([{"sample": "qc", "role": "predict", "prefix": "a/"}], "used by the pipeline's own results"),
    ([{"sample": "domains", "role": "predict", "prefix": "a/"}], "used by the pipeline's own results"),
    ([{"sample": "cells", "role": "predict", "prefix": "a/"}], "used by the pipeline's own results"),
    ([{"sample": "A", "role": "train", "prefix": "a/", "segmentation": "c.geojson"},
      {"sample": "B", "role": "predict", "prefix": "b/"}], "has a segmentation but no predict row"),
    ([{"sample": "A", "role": "train", "prefix": "a/"},
      {"sample": "B", "role": "predict", "prefix": "b/", "segmentation": "x/cell_boundaries.parquet"}],
     "Xenium cell boundaries"),
    ([{"sample": "", "role": "train", "prefix": "a/"}], "has no sample name"),
    ([{"sample": "A", "role": "test", "prefix": "a/"}], "has role 'test'"),
    ([{"sample": "A", "role": "train", "prefix": "a/"}, {"sample": "A", "role": "train", "prefix": "a/"}],
     "listed 2 times as train"),
    ([{"sample": "A", "role": "train", "prefix": "a/"}, {"sample": "A", "role": "predict", "prefix": "b/"}],
     "different prefix values"),
    ([{"sample": "A", "role": "train"}], "has no prefix"),
    ([{"sample": "A", "role": "train", "prefix": "a/", "format": "cosmx"}], "has format 'cosmx'"),
    ([{"sample": "A", "role": "train", "prefix": "a/", "format": "visium"}], "needs an image"),
    ([{"sample": "A", "role": "train", "prefix": "a/", "format": "xenium", "image": "he.tif"}], "needs an alignment"),
    ([{"sample": "A", "role": "train", "prefix": "a/", "format": "xenium", "image": "hires", "alignment": "a.csv"}],
     "needs the H&E image file"),
    ([{"sample": "A", "role": "train", "prefix": "a/", "format": "visium", "image": "lowres", "bin_size": 8}],
     "only visium-hd uses one"),
    ([{"sample": "A", "role": "train", "prefix": "a/", "image": "he.tif"}], "but format seed"),
    ([{"sample": "A", "role": "train", "prefix": "outs", "format": "visium", "image": "lowres"}], "is not a folder"),
    ([{"sample": "A", "role": "train", "prefix": "a/", "truth": "t/"}], "no predict row"),
    ([{"sample": "A", "role": "train", "prefix": "../../../a/"}], "climbs above the root"),
    ([{"sample": "A", "role": "predict", "prefix": "a/"}], "no sample has role train"),
    ([{"sample": "A", "role": "train", "prefix": "a/"}], "no sample has role predict"),
]


BAD = calls("bad", *[("Samplesheet", "read", (rows, "/p/q/sheet.csv", {"dirs": []})) for rows, _ in BAD_SHEETS])


SEGMENTATIONS = ["s3://b/x/cell_boundaries.parquet", "c.csv.gz", "c.csv", "cells.geojson", "cells.json", "l.tif",
                 "l.png", "l.npy", "a.parquet.tif"]
XENIUM_RULE = calls("xenium_rule", *[("Samplesheet", "isXeniumBoundaries", (name,)) for name in SEGMENTATIONS])


def test_the_pipeline_tells_xenium_boundaries_as_p2g_cells_does(answers):
    """Samplesheet.isXeniumBoundaries (the workflow stages experiment.xenium and the alignment for these) and
    p2g-cells' own reading of the file's kind agree on every segmentation kind."""
    from pixel2gene.io.segmentation import segmentation_kind
    groovy = answers[XENIUM_RULE]
    assert groovy == [segmentation_kind(name) == "xenium" for name in SEGMENTATIONS]


def test_every_samplesheet_problem_is_one_line_naming_the_sample(answers):
    for (rows, phrase), result in zip(BAD_SHEETS, answers[BAD]):
        assert result["samples"] == [] and len(result["errors"]) == 1, (rows, result)
        error = result["errors"][0]
        assert phrase in error and "\n" not in error, (phrase, error)


STORE = ["s3://b/data/A/he-raw.jpg", "s3://b/data/C/truth/cnts.tsv", "s3://b/masks/C.png", "s3://b/outs/spatial/x.png",
         "s3://b/he.tif"]
MISSING = calls("missing", *[("Samplesheet", "missing", ([sample], {"files": STORE}, {"prefix_of": STORE})) for sample in [
    {"id": "A", "format": "seed", "prefix": "s3://b/data/A/"},
    {"id": "B", "format": "seed", "prefix": "s3://b/data/B-"},
    {"id": "C", "format": "seed", "prefix": "s3://b/data/A/", "truth": "s3://b/data/C/truth/", "mask": "s3://b/masks/C.png"},
    {"id": "D", "format": "seed", "prefix": "s3://b/data/A/", "truth": "s3://b/data/D/truth/", "mask": "s3://b/masks/D.png"},
    {"id": "V", "format": "visium", "prefix": "s3://b/outs/", "image": "s3://b/he.tif"},
    {"id": "W", "format": "visium", "prefix": "s3://b/nothing/", "image": "lowres"},
    {"id": "X", "format": "xenium", "prefix": "s3://b/outs/", "image": "s3://b/x.tif", "alignment": "s3://b/a.csv"},
    {"id": "S", "format": "seed", "prefix": "s3://b/data/A/", "segmentation": "s3://b/cells/S.geojson"},
    {"id": "Y", "format": "xenium", "prefix": "s3://b/outs/", "image": "s3://b/he.tif",
     "alignment": "s3://b/outs/spatial/x.png", "segmentation": "s3://b/outs/spatial/x.png"},
    {"id": "Z", "format": "xenium", "prefix": "s3://b/outs/", "image": "s3://b/he.tif",
     "alignment": "s3://b/outs/spatial/x.png", "segmentation": "s3://b/he.parquet"},
]])


def test_missing_paths_are_found_at_launch_one_line_each(answers):
    found = answers[MISSING]
    assert found[0] == [] and found[2] == [] and found[4] == []
    assert found[1] == ["sample 'B': no file starts with prefix s3://b/data/B-"]
    assert [p.split(": ", 1)[1] for p in found[3]] == ["no file starts with truth prefix s3://b/data/D/truth/",
                                                       "mask s3://b/masks/D.png does not exist"]
    assert found[5] == ["sample 'W': the visium output folder s3://b/nothing/ does not exist"]
    assert [p.split(": ", 1)[1] for p in found[6]] == ["alignment s3://b/a.csv does not exist",
                                                       "image s3://b/x.tif does not exist"]
    assert found[7] == ["sample 'S': segmentation s3://b/cells/S.geojson does not exist"]
    assert found[8] == []  # a label image needs nothing beside it
    assert [p.split(": ", 1)[1] for p in found[9]] == [
        "segmentation s3://b/he.parquet does not exist",
        "Xenium cell boundaries need s3://b/experiment.xenium beside them (its pixel size)"]


TENX_STORE = ["s3://b/v/outs/spatial/scalefactors_json.json", "s3://b/v/outs/spatial/tissue_positions_list.csv",
              "s3://b/v/outs/spatial/tissue_lowres_image.png", "s3://b/v/outs/possorted_genome_bam.bam",
              "s3://b/v/outs/filtered_feature_bc_matrix/features.tsv.gz",  # no matrix.mtx: not a matrix
              "s3://b/v/outs/raw_feature_bc_matrix/matrix.mtx.gz", "s3://b/v/outs/raw_feature_bc_matrix/barcodes.tsv.gz"]
TENX = calls("tenx", ("TenxInputs", "paths", ("visium", "s3://b/v", None, "lowres", {"files": TENX_STORE})),
             ("TenxInputs", "paths", ("visium", "s3://b/v/", None, "hires", {"files": TENX_STORE})),
             ("TenxInputs", "missing", ([{"id": "V", "format": "visium", "prefix": "s3://b/v/", "image": "hires"},
                                         {"id": "L", "format": "visium", "prefix": "s3://b/v/", "image": "lowres"},
                                         {"id": "A", "format": "seed", "prefix": "s3://b/a/"}], {"files": TENX_STORE})))


def test_the_files_p2g_import_reads_are_found_on_an_object_store(answers):
    """#27 A6: P2G_IMPORT stages these, not the whole folder; tests/test_import_inputs.py holds them equal to
    p2g-import --list-inputs on real outputs. Here: the folder above outs/, a matrix folder without its matrix."""
    listed, no_hires, missing = answers[TENX]
    assert listed == ["outs/raw_feature_bc_matrix", "outs/spatial/scalefactors_json.json",
                      "outs/spatial/tissue_lowres_image.png", "outs/spatial/tissue_positions_list.csv"]
    assert no_hires["error"] == "the visium output s3://b/v/ has no outs/spatial/tissue_hires_image.png"
    assert missing == ["sample 'V': the visium output s3://b/v/ has no outs/spatial/tissue_hires_image.png"]


HE_RAW = calls("he-raw",
               ("Staging", "heRawNames", ("",)), ("Staging", "heRawNames", ("C3-",)),
               ("Staging", "slideFolders", (["/d/he-raw.mrxs", "/d/cnts.tsv", "s3://b/C3-he-raw.MRXS"],)),
               ("Staging", "slideFolders", (["/d/he-raw.svs"],)))


def test_the_pipeline_picks_he_raw_as_p2g_rescale_does(answers):
    """The spatialdata task stages the sample's he-raw alone: the first of these names among its files (the
    workflow's firstNamed), in p2g-rescale's order, and a MIRAX slide (.mrxs) with its data folder."""
    from pixel2gene.io.sample import IMAGE_ENDINGS, IMAGE_SUFFIXES
    text = (REPO / "lib/Staging.groovy").read_text()
    listed = re.search(r"HE_RAW_ENDINGS = \[([^\]]*)\]", text).group(1)
    assert tuple(re.findall(r"'([^']+)'", listed)) == IMAGE_ENDINGS
    plain, stem, mrxs, svs = answers[HE_RAW]
    assert plain == list(IMAGE_SUFFIXES) and stem == ["C3-" + s for s in IMAGE_SUFFIXES]
    assert plain.index("he-raw.ome.tif") < plain.index("he-raw.tif") < plain.index("he-raw.jpg")
    assert mrxs == ["/d/he-raw", "s3://b/C3-he-raw"] and svs == []


FOLDS = calls("folds", ("Folds", "groups", ("10", 4)), ("Folds", "groups", (3, 10)), ("Folds", "groups", (10, 1)),
              ("Folds", "compare", ("10", "2")), ("Folds", "compare", ("0,1", "2,3")),
              ("Folds", "compare", ("8,9", "0,1,2,3")), ("Folds", "groups", (0, 1)))


def test_fold_groups_and_their_order(answers):
    results = answers[FOLDS]
    assert results[:3] == [["0,1,2,3", "4,5,6,7", "8,9"], ["0,1,2"], [str(i) for i in range(10)]]
    assert results[3] > 0 and results[4] < 0 and results[5] > 0
    assert "must be at least 1" in results[6]["error"]


LAUNCH = [  # (profile, params) -> phrases of the problems
    ("awsbatch,docker", {"outdir": "s3://b/r"}, ["--queue"]),
    ("awsbatch,docker,gpu", {"outdir": "s3://b/r", "queue": "cpu-q"}, ["--gpu_queue"]),  # #27 A4
    ("awsbatch,docker,gpu", {"outdir": "s3://b/r", "queue": "cpu-q", "gpu_queue": "gpu-q"}, []),
    ("awsbatch,docker", {"outdir": "s3://b/r", "queue": "cpu-q"}, []),
    ("google,docker", {"outdir": "gs://b/r"}, ["--google_project"]),
    ("google,docker,gpu", {"outdir": "gs://b/r", "google_project": "p"}, ["--gpu_type"]),
    ("google,docker,gpu", {"outdir": "gs://b/r", "google_project": "p", "gpu_type": "nvidia-l4"}, []),
    ("test,docker,singularity", {"outdir": "r"}, ["pick one container engine"]),
    ("test,conda,docker", {"outdir": "r"}, ["pick one container engine, or conda"]),  # #27: conda is an engine
    ("awsbatch,conda", {"outdir": "s3://b/r", "queue": "cpu-q"}, ["use docker there"]),
    ("google,conda,gpu", {"outdir": "gs://b/r", "google_project": "p", "gpu_type": "nvidia-l4"}, ["use docker there"]),
    ("slurm,conda,gpu", {"outdir": "r"}, []),
    ("test,conda", {"outdir": "r"}, []),
    ("slurm,apptainer,gpu", {"outdir": "r"}, []),
    (None, {"outdir": "r"}, []),
]


LAUNCHING = calls("launch", *[("LaunchChecks", "problems", (profile, params)) for profile, params, _ in LAUNCH])


def test_cloud_runs_stop_at_launch_without_their_queue_or_project(answers):
    """Defect 4: awsbatch needs process.queue, Google Batch a project; a run must say so before it submits."""
    for (profile, params, phrases), problems in zip(LAUNCH, answers[LAUNCHING]):
        assert len(problems) == len(phrases), (profile, problems)
        for phrase, problem in zip(phrases, problems):
            assert phrase in problem


def test_link_targets_are_staged_so_containers_can_follow_imported_links(tmp_path):
    """p2g-import links he-raw to the user's image; Docker mounts only the folders of a task's inputs."""
    image = tmp_path / "images" / "heart.tif"
    image.parent.mkdir()
    image.write_bytes(b"II*\0")
    imported = tmp_path / "imported"
    imported.mkdir()
    (imported / "he-raw.tif").symlink_to(image)
    (imported / "relative.png").symlink_to("../images/heart.tif")
    (tmp_path / "hop.tif").symlink_to(image)
    (imported / "chain.tif").symlink_to(tmp_path / "hop.tif")
    (imported / "cnts.h5ad").write_bytes(b"")
    found = [str(imported / n) for n in ("cnts.h5ad", "he-raw.tif", "relative.png", "chain.tif")]
    result, = run_calls([("Staging", "linkTargets", (found,))])
    assert result == [str(image), str(tmp_path / "hop.tif")]
