"""Gene names are free text: every name gets its own file, reads back exactly, and draws as plain text."""
import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_tool
from pixel2gene.genes.names import gene_file_names, read_gene_files, read_gene_names, write_gene_names
from synthetic import make_sample

AWKWARD = ["a/b", "a_b", "A_B", "x" * 300, r"$\frac{$", "with space", " lead", "..", ".hidden", "IFN-γ",
           "a\\b", "CON"]


def test_file_names_are_injective_and_plain_names_stay_as_they_are():
    genes = AWKWARD + ["ERBB2", "HLA-A", "GENE.1", "erbb2"]
    files = gene_file_names(genes)
    assert len({f.casefold() for f in files.values()}) == len(genes)  # distinct even where case is ignored
    assert files["ERBB2"] == "ERBB2" and files["HLA-A"] == "HLA-A" and files["GENE.1"] == "GENE.1"
    assert files["erbb2"] != "erbb2"  # would share ERBB2's file on macOS
    for f in files.values():
        assert "/" not in f and "\\" not in f and not f.startswith(".") and len(f) < 100
    assert gene_file_names(genes) == files  # the same names give the same files


def test_gene_names_read_back_exactly(tmp_path):
    write_gene_names(tmp_path / "names.txt", AWKWARD)
    assert read_gene_names(tmp_path / "names.txt") == AWKWARD


@pytest.fixture(scope="module")
def awkward_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("names")
    make_sample(f"{root}/T/", size_um=480, seed=0, n_genes=len(AWKWARD) + 3)
    counts = pd.read_csv(root / "T" / "cnts.tsv", sep="\t", index_col=0)
    counts.columns = AWKWARD + list(counts.columns[len(AWKWARD):])
    counts.to_csv(root / "T" / "cnts.tsv", sep="\t")
    out = root / "out"
    run_tool("p2g-run", "--train", root / "T", "--predict", root / "T", "--outdir", out, "--encoder", "texture",
             "--epochs", 2, "--n-folds", 2, "--threads", 1, "--map-top", len(AWKWARD) + 3)
    return out, list(counts.columns)


def test_every_awkward_name_has_its_own_map_column_and_picture(awkward_run):
    import anndata
    out, genes = awkward_run
    assert sorted(read_gene_names(out / "T" / "gene-names.txt")) == sorted(genes)
    files = read_gene_files(out / "T" / "gene-files.tsv")
    assert sorted(files) == sorted(genes)
    assert len(list((out / "T" / "cnts-super").glob("*.npy"))) == len(genes)
    a = anndata.read_h5ad(out / "T.h5ad")
    assert sorted(a.var_names) == sorted(genes) and a.var_names.is_unique
    for gene in ("a/b", "a_b"):  # each column holds its own gene's map
        grid = np.load(out / "T" / "cnts-super" / f"{files[gene]}.npy")
        mask = np.load(out / "T" / "mask.npy")
        np.testing.assert_array_equal(np.asarray(a[:, gene].X).ravel(), grid[mask])
    drawn = json.loads((out / "figures" / "T" / "maps.json").read_text())["genes"]
    assert sorted(d["gene"] for d in drawn) == sorted(genes)
    assert all((out / "figures" / "T" / d["file"]).is_file() for d in drawn)
    assert r"$\frac{$" in (out / "T.html").read_text(encoding="utf-8")  # the report names it as written
