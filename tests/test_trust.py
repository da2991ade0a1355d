"""How far to trust a map: per-gene skill by CV, the novelty of each superpixel, the warnings, the colour fallback."""
import json

import h5py
import numpy as np
import pytest
import torch

from pixel2gene.evaluation.metrics import log_composition
from pixel2gene.evaluation.trust import COARSE_UM, FEW_SKILFUL, NO_SKILL_R, UNFAMILIAR, warnings
from pixel2gene.model import novelty
from pixel2gene.prediction.predict import MIN_FAMILIAR, Familiarity, assess_novelty, fallback_weight
from pixel2gene.training.skill import SKILLFUL_R, pearson_of, skill_table, sums, summary


def test_skill_sums_pool_across_tasks_into_the_r_of_all_bins():
    rng = np.random.default_rng(0)
    truth = rng.poisson(6, (80, 5)).astype(float)
    pred = truth * rng.uniform(0.5, 1.5, truth.shape) + rng.uniform(0, 2, truth.shape)
    whole = sums(pred, truth)
    pooled = sums(pred[:30], truth[:30]) + sums(pred[30:], truth[30:])  # two tasks' folds
    r_counts = [np.corrcoef(pred[:, g], truth[:, g])[0, 1] for g in range(5)]
    lp, lt = log_composition(pred), log_composition(truth)  # composition normalises within each task's bins
    r_comp = [np.corrcoef(lp[:, g], lt[:, g])[0, 1] for g in range(5)]
    np.testing.assert_allclose(pearson_of(whole)[:, 0], r_counts, rtol=1e-9)
    np.testing.assert_allclose(pearson_of(whole)[:, 1], r_comp, rtol=1e-9)
    np.testing.assert_allclose(pearson_of(pooled), pearson_of(whole), rtol=1e-9)
    truth[:, 2] = 0  # a gene never measured has no r, of counts or of composition
    table = skill_table(list("ABCDE"), sums(pred, truth))
    assert table.loc[2, ["cv_r_counts", "cv_r_composition"]].isna().all() and not table.loc[2, "skilful"]
    assert table["cv_bins"].tolist() == [80] * 5
    assert (table["skilful"] == (table["cv_r_composition"] >= SKILLFUL_R)).all()
    s = summary(table)
    assert s["genes"] == 5 and s["skilful_genes"] == int(table["skilful"].sum()) and s["bins"] == 80


def blobs(rng, centre, n, fold):
    return rng.normal(centre, 1.0, (n, 1, 20)).astype(np.float16), np.ones((n, 1), bool), np.full(n, fold)


def test_novelty_reads_as_a_quantile_of_held_out_training_tissue():
    rng = np.random.default_rng(1)
    parts = [blobs(rng, 0.0, 300, f) for f in range(5)]
    features, valid, fold = (np.concatenate(p) for p in zip(*parts))
    model = novelty.fit(features, valid, fold, seed=3)
    again = novelty.fit(features, valid, fold, seed=3)
    assert np.array_equal(model.reference, again.reference) and np.array_equal(model.calibration, again.calibration)
    familiar = torch.from_numpy(rng.normal(0.0, 1.0, (2000, 20)).astype(np.float32))
    quantile, ratio = model.score(familiar)
    assert 0.3 < np.median(quantile) < 0.8  # new tissue of the same kind: as familiar as a held-out block
    assert (quantile > novelty.NOVEL_QUANTILE).mean() < 0.05 and (ratio > 1).mean() < 0.05
    far = torch.from_numpy(rng.normal(6.0, 1.0, (200, 20)).astype(np.float32))  # tissue of another kind
    quantile, ratio = model.score(far)
    assert (quantile == 1).all() and (ratio > 2).all()


def test_a_second_consecutive_section_does_not_make_same_kind_tissue_novel():
    """Fold blocks are drawn per section, so a block held out of one section found its twin in the next one:
    calibrated against all sections, the yardstick shrank to the distance between near-identical sections."""
    rng = np.random.default_rng(4)
    regions = rng.normal(0.0, 1.5, (5, 20))  # each spatial block holds its own mix of tissue

    def section(order, noise):
        parts = [(rng.normal(regions[r], 1.0, (300, 1, 20)) + noise).astype(np.float16) for r in range(5)]
        return np.concatenate(parts), np.concatenate([np.full(300, order[r]) for r in range(5)])

    a, fold_a = section([0, 1, 2, 3, 4], 0.0)
    b, fold_b = section([2, 4, 1, 0, 3], 0.05)  # the next section: the same regions, folds drawn anew
    features, fold = np.concatenate([a, b]), np.concatenate([fold_a, fold_b])
    valid, which = np.ones((len(fold), 1), bool), np.repeat([0, 1], len(fold_a))
    block = torch.from_numpy(rng.normal(regions[0] + 1.5, 1.0, (2000, 20)).astype(np.float32))  # unseen, same kind
    per_section = novelty.fit(features, valid, fold, seed=0, section=which)
    pooled = novelty.fit(features, valid, fold, seed=0)  # as if one section: twins in the yardstick
    novel = lambda model: float((model.score(block)[1] > 1).mean())
    assert novel(per_section) < 0.05 < 0.5 < novel(pooled)
    alone = novelty.fit(a, valid[:len(a)], fold_a, seed=0)
    assert abs(per_section.novel_distance - alone.novel_distance) < 0.1 * alone.novel_distance
    far = torch.from_numpy(rng.normal(6.0, 1.0, (200, 20)).astype(np.float32))
    assert (per_section.score(far)[0] == 1).all()
    same = novelty.fit(a, valid[:len(a)], fold_a, seed=0, section=np.zeros(len(a), int))
    assert np.array_equal(same.calibration, alone.calibration) and np.array_equal(same.reference, alone.reference)


def test_the_colour_fallback_starts_past_the_held_out_tissue_and_is_whole_at_one_and_a_half_its_distance():
    assert fallback_weight(np.array([0.2, 1.0, 1.25, 1.5, 7.0])).tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]


def test_the_fallback_ramp_is_described_as_it_is(capsys):
    """The --help and the pipeline's schema once said "twice" the distance while the ramp ended at 1.5."""
    from pathlib import Path
    from pixel2gene.prediction.predict import FULL_FALLBACK_RATIO
    from pixel2gene.steps.predict import Args
    said = f"fully from {FULL_FALLBACK_RATIO:g} times that distance"
    schema = json.loads((Path(__file__).resolve().parents[1] / "nextflow_schema.json").read_text())
    option = next(g["properties"]["unfamiliar"] for g in schema["$defs"].values() if "unfamiliar" in g["properties"])
    assert said in option["description"]
    assert said in Args.__dataclass_fields__["unfamiliar"].metadata["help"].replace("%%", "%")


def test_a_section_of_mostly_other_tissue_is_standardised_with_its_familiar_tissue_only():
    """A section of mostly fat would otherwise shift its familiar tissue by what fat looks like."""
    rng = np.random.default_rng(2)
    parts = [blobs(rng, 0.0, 300, f) for f in range(5)]
    features, valid, fold = (np.concatenate(p) for p in zip(*parts))
    model = novelty.fit(features, valid, fold, seed=0)
    like = rng.normal(0.0, 1.0, (3000, 20)) * 2 + 5      # the training tissue, under a stain shift the stats absorb
    other = rng.normal(30.0, 1.0, (7000, 20)) * 2 + 5    # and much more of another kind

    def assess(section):
        fam = Familiarity(model, np.full(20, 5.0, np.float32), np.full(20, 2.0, np.float32), None, True,
                          np.zeros(len(section), np.float32), np.zeros(len(section), np.float32))
        return fam, assess_novelty(section, fam, chunk=999)

    section = np.concatenate([like, other]).astype(np.float16)
    fam, (mean, std, share) = assess(section)
    assert (fam.ratio[:3000] <= 1).mean() > 0.95 and (fam.ratio[3000:] > 1).all()
    familiar = section[fam.ratio <= 1].astype(np.float64)
    assert np.allclose(mean, familiar.mean(0), atol=1e-4) and np.allclose(std, familiar.std(0), atol=1e-4)
    assert abs(share - 0.3) < 0.02 and abs(float(mean.mean()) - 5) < 0.2  # not pulled towards the other tissue
    assert assess(like.astype(np.float16)[:2000] * 0 + 5)[1] is None      # nothing novel: the section's own, as before
    few = int((MIN_FAMILIAR - 0.02) * 10000)
    assert assess(np.concatenate([like[:few], other]).astype(np.float16))[1] is None  # too little familiar: all


def test_warnings_say_what_is_wrong_and_only_then():
    good = {"genes": 100, "skilful_genes": 60, "skilful_r_threshold": SKILLFUL_R, "median_cv_r_composition": 0.3}
    assert warnings(good, 0.05) == []
    none = dict(good, median_cv_r_composition=NO_SKILL_R / 2, skilful_genes=3)
    assert "no skill" in warnings(none, 0.0)[0] and len(warnings(none, 0.0)) == 1
    few = dict(good, skilful_genes=int(FEW_SKILFUL * 100) - 1)
    assert "only 19 of 100 genes" in warnings(few, 0.0)[0]
    unfamiliar = warnings(good, UNFAMILIAR + 0.17)
    assert len(unfamiliar) == 1 and "42% of this section's tissue looks unlike the training section" in unfamiliar[0]
    assert "colour ridge" in unfamiliar[0] and "average composition" in unfamiliar[0]
    assert warnings(None, None) == []


def test_the_unfamiliar_warning_and_the_report_say_whether_the_maps_leaned_on_colour():
    # with --unfamiliar keep nothing leaned on colour: saying so would misdescribe the maps
    kept = warnings(None, UNFAMILIAR + 0.17, leans_on_colour=False)
    assert len(kept) == 1 and "colour" not in kept[0] and "--unfamiliar keep" in kept[0]
    from pixel2gene.report.page import fallback_sentence
    leaned = fallback_sentence({"novel_fraction": 0.42, "colour_share": 0.2, "leans_on_colour": True})
    assert "carries 20% of the prediction" in leaned and "average composition" in leaned
    assert "extrapolated" in fallback_sentence({"novel_fraction": 0.42, "colour_share": 0.0, "leans_on_colour": False})
    assert fallback_sentence({"novel_fraction": 0.0, "colour_share": 0.0, "leans_on_colour": False}) == ""
    assert "carries" in fallback_sentence({"novel_fraction": 0.42, "colour_share": 0.2})  # an older result


def test_a_coarse_image_says_what_detail_its_maps_carry():
    assert warnings(None, None, COARSE_UM) == [] and warnings(None, None, 0.5) == []
    coarse = warnings(None, None, 13.67)
    assert len(coarse) == 1 and "he-raw is 13.7 µm per pixel" in coarse[0] and "about 27 µm" in coarse[0]
    assert "full-resolution H&E" in coarse[0]


def test_every_map_says_how_far_to_trust_it(chain):
    import anndata
    out = chain["out"]
    for sample in ("test", "train"):
        meta = json.loads((out / sample / "metadata.json").read_text())
        assert meta["skill"]["genes"] == 30 and meta["familiarity"]["novel_quantile"] == novelty.NOVEL_QUANTILE
        assert isinstance(meta["warnings"], list)
        a = anndata.read_h5ad(out / f"{sample}.h5ad")
        assert {"cv_r_composition", "cv_r_counts", "cv_bins", "skilful"} <= set(a.var.columns)
        assert {"novelty", "colour_share"} <= set(a.obs.columns)
        assert a.obs["novelty"].between(0, 1).all() and a.obs["colour_share"].between(0, 1).all()
        assert a.uns["pixel2gene"]["warning"] == bool(meta["warnings"])
        assert json.loads(a.uns["pixel2gene"]["trust_json"])["skill"] == meta["skill"]
        page = (out / f"{sample}.html").read_text(encoding="utf-8")
        assert "How far to trust these maps" in page and "per-gene skill (30 genes" in page
        assert "looks unlike the training section" in page and "Composition r: for each gene" in page
        assert json.loads((out / "figures" / sample / "maps.json").read_text())["novelty"] == "novelty.png"
    skill = (out / "train" / "skill.tsv").read_text().splitlines()
    assert skill[0].split("\t") == ["gene", "cv_bins", "cv_r_counts", "cv_r_composition", "skilful"]
    train = json.loads((out / "train" / "metadata.json").read_text())
    assert train["familiarity"]["novel_fraction"] < 0.05  # a training section is its own familiar tissue


def test_the_most_skilful_genes_are_drawn():
    import pandas as pd
    from pixel2gene.steps.maps import pick_genes
    skill = pd.DataFrame({"gene": ["A", "B", "C", "D"], "cv_r_composition": [0.1, np.nan, 0.5, 0.3]})
    assert pick_genes(["A", "B", "C", "D"], ["B"], 2, skill) == ["B", "C", "D"]
    assert pick_genes(["A", "B", "C", "D"], [], 2) == ["A", "B"]  # no CV: the most measured


def test_a_run_warns_loudly_where_the_model_has_no_skill(tmp_path):
    """Counts that have nothing to do with the image: CV finds no skill, and every output says so."""
    import pandas as pd
    from conftest import run_tool
    from synthetic import make_sample
    make_sample(f"{tmp_path}/N/", size_um=480, seed=4)
    counts = pd.read_csv(tmp_path / "N" / "cnts.tsv", sep="\t", index_col=0)
    rng = np.random.default_rng(0)
    counts[:] = rng.poisson(5, counts.shape)  # noise: no gene follows the tissue
    counts.to_csv(tmp_path / "N" / "cnts.tsv", sep="\t")
    proc = run_tool("p2g-run", "--train", tmp_path / "N", "--predict", tmp_path / "N", "--outdir", tmp_path / "o",
                    "--encoder", "texture", "--epochs", 2, "--n-folds", 3, "--threads", 1, "--map-top", 1)
    assert "warning: the model shows no skill" in proc.stderr
    meta = json.loads((tmp_path / "o" / "N" / "metadata.json").read_text())
    assert meta["warnings"] and "no skill" in meta["warnings"][0]
    page = (tmp_path / "o" / "N.html").read_text(encoding="utf-8")
    assert page.index("Read this first") < page.index("<h2>Sample</h2>")
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert run["warnings"]["N"] == meta["warnings"]


def test_the_real_heart_fixture_opens_with_the_no_skill_warning(tmp_path):
    """Issue #26 on real data: the 10x human-heart Visium fixture (100 spots, about 9 counts each) trains, but
    spatial CV finds no skill: the run succeeds and the report opens with the warning."""
    from conftest import SHARED, run_tool
    outs = SHARED / "data" / "10x" / "visium" / "human-heart-sr1.0"
    if not outs.is_dir():
        pytest.skip(f"{outs} is not present")
    run_tool("p2g-import", "visium", outs, "--image", "lowres", "--out", tmp_path / "heart")
    proc = run_tool("p2g-run", "--train", tmp_path / "heart", "--predict", tmp_path / "heart", "--outdir",
                    tmp_path / "o", "--encoder", "texture", "--epochs", 5, "--map-top", 1, process=True)
    assert proc.stderr.strip().splitlines()[-1].startswith("[p2g] warning: heart: the model shows no skill")
    page = (tmp_path / "o" / "heart.html").read_text(encoding="utf-8")
    assert page.index("Read this first") < page.index("<h2>Sample</h2>") and "no skill" in page
    assert "the first 20 of 20" in page and "top 20 genes" in page  # the labels say how many genes were scored
    # issue #30: a 13.7 µm/px image says what detail its 8 µm maps carry, in the log, the report and the .h5ad
    assert "he-raw is 13.7 µm per pixel" in proc.stderr and "he-raw is 13.7 µm per pixel" in page
    with h5py.File(tmp_path / "o" / "heart.h5ad", "r") as f:
        uns = f["uns"]["pixel2gene"]
        assert "he-raw is 13.7 µm per pixel" in uns["warnings"][()].decode() and bool(uns["warning"][()])


def test_the_fallback_blends_the_colour_ridge_into_novel_tissue_only_and_keep_turns_it_off(chain):
    """predict_sum on the chain's test section with far-off tissue appended: where the ratio passes 1 the sum is
    (1 - w) * the fold models' sum + w * the colour ridge for each fold model; elsewhere, and everywhere with
    `--unfamiliar keep`, it is the fold models' sum bit for bit."""
    from pixel2gene.artifacts.features import Features
    from pixel2gene.artifacts.mask import Mask
    from pixel2gene.artifacts.model import ModelSet
    from pixel2gene.model import ridge
    from pixel2gene.prediction.predict import predict_sum
    from pixel2gene.runner.layout import Layout
    lay = Layout(chain["out"], json.loads((chain["out"] / "run.json").read_text())["args"]["encoder"])
    models = ModelSet.open([lay.model])
    assert models.colour_ridge() is not None
    own = np.asarray(Features(lay.features("test")).tissue_rows(Mask(lay.mask("test")).tissue.read()))[:4000]
    far = (own[:1000].astype(np.float32) * 3 + 40).astype(np.float16)  # tissue unlike any the model saw
    x = np.concatenate([own, far])
    mask = np.ones((10, len(x) // 10), bool)
    mean, std = models.channel_stats()

    def run(lean):
        fam = Familiarity(models.novelty(), mean, std, models.colour_ridge(), lean,
                          np.zeros(len(x), np.float32), np.zeros(len(x), np.float32))
        assess_novelty(x, fam)
        out = np.zeros((len(models.genes), len(x)), np.float32)
        n = predict_sum(x, mask, mean, std, models, out, familiarity=fam)
        return out, fam, n

    plain = np.zeros((len(models.genes), len(x)), np.float32)
    predict_sum(x, mask, mean, std, models, plain)
    kept, fam_kept, _ = run(False)
    assert not fam_kept.weight.any() and np.array_equal(kept, plain)
    leaned, fam, n = run(True)
    w = fam.weight
    assert (w[len(own):] == 1).all() and np.array_equal(w, fallback_weight(fam.ratio))
    assert np.array_equal(leaned[:, w == 0], plain[:, w == 0])
    z = torch.from_numpy((far.astype(np.float32) - mean) / np.maximum(std, 1e-6))
    colour = ridge.apply(z, models.colour_ridge()).numpy().T * n
    np.testing.assert_allclose(leaned[:, len(own):], colour, rtol=1e-4, atol=1e-4)


def test_unfamiliar_keep_is_recorded_and_combine_does_not_say_the_maps_leaned_on_colour(chain, tmp_path):
    from pixel2gene.io.outputs import load_npy
    from pixel2gene.runner.layout import Layout
    from pixel2gene.steps import combine, predict
    lay = Layout(chain["out"], json.loads((chain["out"] / "run.json").read_text())["args"]["encoder"])
    run = predict.run(predict.Args(features=str(lay.features("test")), mask=str(lay.mask("test")),
                                   model=[str(lay.model)], out=str(tmp_path / "keep"), device="cpu", threads=1,
                                   unfamiliar="keep")).path
    assert json.loads((run / "pred.json").read_text())["unfamiliar"] == "keep"
    assert not load_npy(run / "colour-share.npy").any()
    out = combine.run(combine.Args(pred=[str(run)], rescaled=str(lay.rescale("test")), mask=str(lay.mask("test")),
                                   out=str(tmp_path / "out"), threads=1)).path
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["familiarity"]["colour_share"] == 0 and meta["familiarity"]["leans_on_colour"] is False
    assert not any("colour ridge" in w for w in meta["warnings"])
