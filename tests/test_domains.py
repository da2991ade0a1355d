"""p2g-domains: tissue domains of the predicted expression, reproducible, in the .h5ad and the report."""
import numpy as np
import pandas as pd
import pytest

from pixel2gene.steps import domains, export, report
from pixel2gene.tool import cli
from synthetic_cells import write_section

anndata = pytest.importorskip("anndata")


def call(module, argv, capfd=None):
    if capfd:
        capfd.readouterr()
    rc = cli.main(module.Args, module.run, "", list(map(str, argv)))
    return rc, (capfd.readouterr().err if capfd else "")


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    root = tmp_path_factory.mktemp("domains")
    s = write_section(root)
    s["base"] = ["--result", root / "result", "--rescaled", root / "rescale"]
    for out in ("d1", "d2"):
        assert call(domains, s["base"] + ["--out", root / out, "--domains", 3, "--map-px", 200])[0] == 0
    return s


def test_the_same_seed_gives_the_same_domains(section, tmp_path):
    root = section["root"]
    a, b = np.load(root / "d1" / "domains.npy"), np.load(root / "d2" / "domains.npy")
    assert np.array_equal(a, b) and ((a >= 0) == section["mask"]).all()
    assert (root / "d1" / "top-genes.tsv").read_bytes() == (root / "d2" / "top-genes.tsv").read_bytes()
    sizes = np.bincount(a[a >= 0])
    assert list(sizes) == sorted(sizes, reverse=True)  # domain 0 is the largest
    assert (root / "d1" / "domains.png").stat().st_size > 5000


def test_domains_find_the_three_cell_type_sectors(section):
    """Each type marks every third gene; each domain's top three genes must all mark one type."""
    table = pd.read_csv(section["root"] / "d1" / "top-genes.tsv", sep="\t")
    marked = []
    for d in range(3):
        top = table[table["domain"] == d].sort_values("rank")["gene"].head(3)
        kinds = {int(g[4:]) % 3 for g in top}
        assert len(kinds) == 1, (d, list(top))
        marked += kinds
    assert sorted(marked) == [0, 1, 2]


def test_export_adds_the_domains_and_changes_nothing_else(section, tmp_path):
    base = section["base"] + ["--thumbnail-px", 0]
    assert call(export, base + ["--out", tmp_path / "plain.h5ad"])[0] == 0
    assert call(export, base + ["--out", tmp_path / "with.h5ad", "--tissue-domains", section["root"] / "d1"])[0] == 0
    plain, with_ = anndata.read_h5ad(tmp_path / "plain.h5ad"), anndata.read_h5ad(tmp_path / "with.h5ad")
    grid = np.load(section["root"] / "d1" / "domains.npy")
    assert list(with_.obs["domain"].cat.categories) == ["0", "1", "2"]
    assert (with_.obs["domain"].astype(int).to_numpy() == grid[section["mask"]]).all()
    assert len(with_.uns["domain_colors"]) == 3
    assert np.array_equal(plain.X, with_.X) and plain.obs.equals(with_.obs.drop(columns="domain"))
    assert set(with_.uns) - set(plain.uns) == {"domain_colors"}


def test_the_report_shows_the_domain_map_and_top_genes(section, tmp_path):
    out = tmp_path / "S.html"
    assert call(report, ["--result", section["root"] / "result", "--out", out,
                         "--tissue-domains", section["root"] / "d1"])[0] == 0
    page = out.read_text()
    assert "<h2>Tissue domains</h2>" in page and 'alt="tissue domains"' in page and "GENE0" in page


def test_domains_of_another_mask_are_refused(section, tmp_path, capfd):
    grid_dir = tmp_path / "other"
    import shutil
    shutil.copytree(section["root"] / "d1", grid_dir)
    grid = np.load(grid_dir / "domains.npy")
    grid[10, 10] = -1
    np.save(grid_dir / "domains.npy", grid)
    rc, err = call(export, section["base"] + ["--out", tmp_path / "x.h5ad", "--tissue-domains", grid_dir], capfd)
    assert rc == 2 and "another tissue mask" in err and not (tmp_path / "x.h5ad").exists()
    rc, err = call(domains, section["base"] + ["--out", tmp_path / "d", "--domains", 1], capfd)
    assert rc == 2 and "--domains" in err and not (tmp_path / "d").exists()


def test_genes_predicted_with_skill_name_a_domain_first():
    """A domain named by genes the model cannot predict says little: skilful genes come first, then the rest."""
    from pixel2gene.export.domains import top_genes

    class Norm:  # the part of LogNormal that top_genes reads
        genes = ["A", "B", "C", "D"]
        values = np.array([[9, 3, 1, 2], [9, 3, 1, 2], [1, 1, 2, 1], [1, 1, 2, 1]], np.float32)

        def raw(self, g0):
            return self.values[:, g0:g0 + 64]

        def normalise(self, raw):
            return np.log1p(raw)

    labels = np.array([0, 0, 1, 1])
    plain = top_genes(Norm(), labels, 2, top=3)
    assert plain[plain.domain == 0].gene.tolist()[:2] == ["A", "B"]  # A rises most in domain 0
    skill = pd.DataFrame({"gene": ["A", "B", "C", "D"], "skilful": [False, True, True, np.nan]})
    trusted = top_genes(Norm(), labels, 2, skill, top=3)
    # higher inside: A (no skill), B, D (unknown skill, not held against it); C is lower inside: no marker
    assert trusted[trusted.domain == 0].gene.tolist() == ["B", "D", "A"]
    assert trusted[trusted.domain == 0].skilful.tolist() == [True, None, False]
