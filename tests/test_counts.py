"""Counts in every format through one reader: sparse .h5ad end to end, names checked, nothing densified."""
import shutil

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from conftest import run_tool
from pixel2gene.errors import InputError
from pixel2gene.io.counts import open_counts
from pixel2gene.io.counts.h5ad import H5adCountsWriter


def write_h5ad(path, table: pd.DataFrame, block=7):
    """The table as sparse CSR cnts.h5ad through the streaming writer, a few rows at a time."""
    writer = H5adCountsWriter(path, table.index, table.columns, np.int32)
    for s in range(0, len(table), block):
        writer.add(sp.csr_matrix(table.iloc[s:s + block].to_numpy()))
    writer.close()


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(3)
    values = rng.poisson(0.3, (200, 40)) * (rng.random((200, 40)) < 0.2)
    return pd.DataFrame(values, index=[f"bin{i}" for i in range(200)], columns=[f"G{g}" for g in range(40)])


@pytest.fixture(params=["tsv", "parquet", "csr", "csc", "dense"])
def counts_file(request, table, tmp_path):
    """The same counts in every supported layout."""
    kind, path = request.param, tmp_path / "cnts"
    if kind == "tsv":
        path = path.with_suffix(".tsv")
        table.to_csv(path, sep="\t")
    elif kind == "parquet":
        path = path.with_suffix(".parquet")
        table.to_parquet(path)
    elif kind == "csr":
        path = path.with_suffix(".h5ad")
        write_h5ad(path, table)
    else:  # written by anndata itself, as users save their own objects
        path = path.with_suffix(".h5ad")
        x = sp.csc_matrix(table.to_numpy(np.float32)) if kind == "csc" else table.to_numpy(np.float32)
        ad.AnnData(X=x, obs=pd.DataFrame(index=table.index), var=pd.DataFrame(index=table.columns)).write_h5ad(path)
    return path


def test_every_layout_reads_the_same(counts_file, table):
    with open_counts(counts_file) as c:
        c.block_rows = 16  # many blocks even on a small table
        assert list(c.ids) == list(table.index) and list(c.genes) == list(table.columns)
        assert np.allclose(c.gene_totals().to_numpy(), table.sum(0).to_numpy())
        ids, genes = ["bin150", "bin3", "bin77", "bin0"], ["G7", "G0", "G39"]
        values, totals = c.take(ids, genes)
        assert sp.issparse(values) and values.shape == (4, 3) and values.dtype == np.float32
        assert np.array_equal(values.toarray(), table.loc[ids, genes].to_numpy())
        assert np.array_equal(totals, table.loc[ids].sum(1).to_numpy())
        c.validate()


def test_streamed_h5ad_is_anndata(table, tmp_path):
    write_h5ad(tmp_path / "cnts.h5ad", table)
    a = ad.read_h5ad(tmp_path / "cnts.h5ad")
    assert sp.isspmatrix_csr(a.X) and list(a.obs_names) == list(table.index)
    assert np.array_equal(a.X.toarray(), table.to_numpy())


@pytest.mark.parametrize("header, problem", [("id\tA\tB\tA\tC", "gene 'A' appears more than once"),
                                             ("id\tA\t\tB\tC", "1 empty gene name")])
def test_bad_gene_columns_are_refused(tmp_path, header, problem):
    """pandas renames a repeated column to A.1 and a blank one to 'Unnamed: 2': both were accepted before."""
    path = tmp_path / "cnts.tsv"
    path.write_text(header + "\nb1\t1\t2\t3\t4\nb2\t0\t1\t0\t2\n")
    with pytest.raises(InputError) as err:
        open_counts(path)
    assert str(path) in str(err.value) and problem in str(err.value)


def test_empty_id_is_refused(tmp_path):
    path = tmp_path / "cnts.tsv"
    path.write_text("id\tA\tB\nb1\t1\t2\n\t0\t1\n")
    with pytest.raises(InputError, match="row 2 has an empty id"):
        open_counts(path)


@pytest.mark.parametrize("problem", ["duplicate gene", "duplicate id", "negative"])
def test_bad_h5ad_is_refused(tmp_path, problem):
    genes = ["A", "B", "A"] if problem == "duplicate gene" else ["A", "B", "C"]
    ids = ["b1", "b1"] if problem == "duplicate id" else ["b1", "b2"]
    x = np.array([[1, 0, 2], [0, -3 if problem == "negative" else 3, 0]], np.float32)
    path = tmp_path / "cnts.h5ad"
    a = ad.AnnData(X=sp.csr_matrix(x))
    a.obs_names, a.var_names = ids, genes
    a.write_h5ad(path)
    with pytest.raises(InputError) as err:
        open_counts(path).validate()
    message = str(err.value)
    assert str(path) in message
    assert {"duplicate gene": "gene 'A' appears more than once", "duplicate id": "id 'b1' appears more than once",
            "negative": "negative"}[problem] in message


def test_not_an_h5ad(tmp_path):
    path = tmp_path / "cnts.h5ad"
    path.write_text("id\tA\nb\t1\n")
    with pytest.raises(InputError, match="not an HDF5"):
        open_counts(path)


def test_duplicate_gene_column_stops_the_tools(synthetic, tmp_path):
    """A one-line error from p2g-rescale and p2g-genes, naming the file; no output left."""
    sample = tmp_path / "s"
    shutil.copytree(synthetic["root"] / "train", sample)
    lines = (sample / "cnts.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    header[5] = header[2]
    (sample / "cnts.tsv").write_text("\n".join(["\t".join(header)] + lines[1:]) + "\n")
    for tool, args in (("p2g-rescale", ["--prefix", f"{sample}/", "--measured"]),
                       ("p2g-genes", ["--counts", sample / "cnts.tsv"])):
        proc = run_tool(tool, *args, "--out", tmp_path / tool, check=False)
        assert proc.returncode == 2
        line, = proc.stderr.strip().splitlines()
        assert str(sample / "cnts.tsv") in line and f"gene '{header[2]}' appears more than once" in line
        assert not (tmp_path / tool).exists()


@pytest.fixture(scope="module")
def sparse_sample(synthetic, tmp_path_factory):
    """The synthetic training sample twice: counts as cnts.tsv and as sparse cnts.h5ad (no tsv beside it)."""
    root = tmp_path_factory.mktemp("sparse")
    shutil.copytree(synthetic["root"] / "train", root / "h5ad")
    table = pd.read_csv(root / "h5ad" / "cnts.tsv", sep="\t", index_col=0)
    (root / "h5ad" / "cnts.tsv").unlink()
    write_h5ad(root / "h5ad" / "cnts.h5ad", table, block=50)
    out = {}
    for name, prefix, counts in (("tsv", synthetic["train"], synthetic["train"] + "cnts.tsv"),
                                 ("h5ad", f"{root}/h5ad/", root / "h5ad" / "cnts.h5ad")):
        w = root / f"work-{name}"
        run_tool("p2g-rescale", "--prefix", prefix, "--out", w / "rescale", "--measured")
        run_tool("p2g-genes", "--counts", counts, "--out", w / "genes", "--n-genes", 12)
        out[name] = w
    run_tool("p2g-mask", "--rescaled", out["tsv"] / "rescale", "--out", root / "mask")
    run_tool("p2g-features", "--rescaled", out["tsv"] / "rescale", "--mask", root / "mask",
             "--out", root / "features", "--encoder", "texture")
    for name, w in out.items():
        run_tool("p2g-folds", "--rescaled", w / "rescale", "--mask", root / "mask", "--features", root / "features",
                 "--genes", w / "genes", "--out", w / "folds", "--n-folds", 3)
    return {"root": root, **out}


def test_sparse_counts_give_the_same_training_set(sparse_sample):
    tsv, h5ad = sparse_sample["tsv"], sparse_sample["h5ad"]
    assert (tsv / "genes" / "gene-names.txt").read_text() == (h5ad / "genes" / "gene-names.txt").read_text()
    for name in ("density.npy", "disk-features.npy", "disk-valid.npy", "fold.npy"):
        assert np.array_equal(np.load(tsv / "folds" / name), np.load(h5ad / "folds" / name)), name
    assert pd.read_parquet(tsv / "folds" / "bins.parquet").equals(pd.read_parquet(h5ad / "folds" / "bins.parquet"))


def test_measured_layer_keeps_each_bins_counts(sparse_sample):
    """The export's measured layer from sparse counts: a bin's superpixels sum to its counts, zeros not stored."""
    from pixel2gene.export.anndata import measured_layer
    from pixel2gene.image.disks import gather_disks
    w = sparse_sample["h5ad"]
    sample = pd.read_json(w / "rescale" / "sample.json", typ="series")
    mask = np.load(sparse_sample["root"] / "mask" / "mask.npy")
    locs = pd.read_parquet(w / "rescale" / "locs.parquet")
    genes = (w / "genes" / "gene-names.txt").read_text().split()
    with open_counts(sample["files"]["counts"]) as c:
        values, _ = c.take(locs.index, genes[:5])
    xy = locs[["x", "y"]].to_numpy()
    layer, bin_id, in_table = measured_layer(mask, values, locs.index, genes[:5], xy, sample["diameter_px"],
                                             genes[::-1])
    assert sp.issparse(layer) and layer.shape == (int(mask.sum()), len(genes)) and (layer.data != 0).all()
    assert in_table.sum() == 5
    index, n_tissue, _ = gather_disks(xy, sample["diameter_px"], mask)
    order = np.cumsum(mask.ravel()) - 1
    dense = layer.toarray()
    cols = [genes[::-1].index(g) for g in genes[:5]]
    for b in np.flatnonzero(n_tissue > 0)[:20]:
        rows = order[index[b, :n_tissue[b]]]
        assert np.allclose(dense[rows][:, cols].sum(0), values[b].toarray().ravel(), rtol=1e-5)
        assert set(bin_id[rows]) == {locs.index[b]}


def test_truth_reads_only_the_predicted_genes(sparse_sample, synthetic):
    from pixel2gene.evaluation.truth import load_truth
    w = sparse_sample["h5ad"]
    sample = pd.read_json(w / "rescale" / "sample.json", typ="series")
    mask = np.load(sparse_sample["root"] / "mask" / "mask.npy")
    args = (synthetic["train"] + "locs-raw.tsv", sample["scale"], sample["diameter_px"], mask, sample["raw_shape"])
    from_h5ad = load_truth(sample["files"]["counts"], *args, genes=["GENE004", "NOT_MEASURED", "GENE001"])
    from_tsv = load_truth(synthetic["train"] + "cnts.tsv", *args)
    assert from_h5ad.genes == ["GENE004", "GENE001"] and from_h5ad.ids == from_tsv.ids
    pos = [from_tsv.genes.index(g) for g in from_h5ad.genes]
    assert np.array_equal(from_h5ad.counts, from_tsv.counts[:, pos])
