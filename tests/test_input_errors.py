"""Bad input: one-line errors that name the file and the fix, and no output left behind."""
import shutil

import numpy as np
import pytest

from conftest import run_tool


@pytest.fixture
def sample(synthetic, tmp_path):
    dst = tmp_path / "s"
    shutil.copytree(synthetic["root"] / "train", dst)
    return dst


def rescale_fails(sample, tmp_path, expect_in_message):
    out = tmp_path / "out"
    proc = run_tool("p2g-rescale", "--prefix", f"{sample}/", "--out", out, "--measured", check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert expect_in_message in lines[0], lines[0]
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no partial directory
    return lines[0]


def test_missing_image(sample, tmp_path):
    (sample / "he-raw.jpg").unlink()
    rescale_fails(sample, tmp_path, "he-raw")


def test_image_that_does_not_decode(sample, tmp_path):
    (sample / "he-raw.jpg").write_bytes(b"not a jpeg at all")
    msg = rescale_fails(sample, tmp_path, "he-raw.jpg")
    assert "decode" in msg


def test_empty_image(sample, tmp_path):
    (sample / "he-raw.jpg").write_bytes(b"")
    rescale_fails(sample, tmp_path, "empty")


@pytest.mark.parametrize("value, words", [("", "empty"), ("abc", "not a number"), ("-0.5", "positive"),
                                          ("0", "positive"), ("nan", "positive")])
def test_bad_pixel_size(sample, tmp_path, value, words):
    (sample / "pixel-size-raw.txt").write_text(value)
    msg = rescale_fails(sample, tmp_path, "pixel-size-raw.txt")
    assert words in msg


def test_missing_pixel_size(sample, tmp_path):
    (sample / "pixel-size-raw.txt").unlink()
    rescale_fails(sample, tmp_path, "pixel-size-raw.txt: file is missing")


def test_missing_counts_for_training(sample, tmp_path):
    (sample / "cnts.tsv").unlink()
    rescale_fails(sample, tmp_path, "cnts.tsv")


def test_non_numeric_counts(sample, tmp_path):
    text = (sample / "cnts.tsv").read_text().splitlines()
    cells = text[1].split("\t")
    cells[3] = "lots"
    text[1] = "\t".join(cells)
    (sample / "cnts.tsv").write_text("\n".join(text) + "\n")
    rescale_fails(sample, tmp_path, "not numeric")


def test_negative_counts(sample, tmp_path):
    text = (sample / "cnts.tsv").read_text().splitlines()
    cells = text[2].split("\t")
    cells[1] = "-3"
    text[2] = "\t".join(cells)
    (sample / "cnts.tsv").write_text("\n".join(text) + "\n")
    rescale_fails(sample, tmp_path, "negative")


def test_empty_counts(sample, tmp_path):
    (sample / "cnts.tsv").write_text("")
    rescale_fails(sample, tmp_path, "cnts.tsv")


def test_ids_without_locations(sample, tmp_path):
    lines = (sample / "locs-raw.tsv").read_text().splitlines()
    (sample / "locs-raw.tsv").write_text("\n".join(lines[:-3]) + "\n")
    rescale_fails(sample, tmp_path, "have no location")


def test_nan_coordinates(sample, tmp_path):
    lines = (sample / "locs-raw.tsv").read_text().splitlines()
    id_, x, y = lines[3].split("\t")
    lines[3] = f"{id_}\tnan\t{y}"
    (sample / "locs-raw.tsv").write_text("\n".join(lines) + "\n")
    rescale_fails(sample, tmp_path, "NaN")


def test_coordinates_outside_the_image(sample, tmp_path):
    lines = (sample / "locs-raw.tsv").read_text().splitlines()
    id_, x, y = lines[3].split("\t")
    lines[3] = f"{id_}\t{x}\t99999"
    (sample / "locs-raw.tsv").write_text("\n".join(lines) + "\n")
    rescale_fails(sample, tmp_path, "outside")


def test_missing_xy_columns(sample, tmp_path):
    text = (sample / "locs-raw.tsv").read_text().replace("\tx\ty", "\tcol\trow", 1)
    (sample / "locs-raw.tsv").write_text(text)
    rescale_fails(sample, tmp_path, "columns x and y")


def test_user_mask_of_the_wrong_shape(synthetic, tmp_path):
    run_tool("p2g-rescale", "--prefix", synthetic["test"], "--out", tmp_path / "r")
    np.save(tmp_path / "bad.npy", np.ones((10, 30), np.uint8))
    proc = run_tool("p2g-mask", "--rescaled", tmp_path / "r", "--out", tmp_path / "m",
                    "--mask", tmp_path / "bad.npy", check=False)
    assert proc.returncode == 2 and "aspect ratio" in proc.stderr and "bad.npy" in proc.stderr
    assert not (tmp_path / "m").exists()


def test_user_mask_overrides_detection(synthetic, tmp_path):
    run_tool("p2g-rescale", "--prefix", synthetic["test"], "--out", tmp_path / "r")
    user = np.zeros((1000, 1000), np.uint8)
    user[:500, :500] = 255  # drawn on the raw image: the top-left quarter
    import cv2
    cv2.imwrite(str(tmp_path / "mask.png"), user)
    run_tool("p2g-mask", "--rescaled", tmp_path / "r", "--out", tmp_path / "m", "--mask-file", tmp_path / "mask.png")
    mask = np.load(tmp_path / "m" / "mask.npy")
    assert mask.shape == (112, 112)  # 1600 px padded to 1792, /16
    assert mask[:50, :50].all() and not mask[50:].any() and not mask[:, 50:].any()


def test_unknown_encoder(synthetic, tmp_path):
    run_tool("p2g-rescale", "--prefix", synthetic["test"], "--out", tmp_path / "r")
    run_tool("p2g-mask", "--rescaled", tmp_path / "r", "--out", tmp_path / "m")
    proc = run_tool("p2g-features", "--rescaled", tmp_path / "r", "--mask", tmp_path / "m",
                    "--out", tmp_path / "f", "--encoder", "nope", check=False)
    assert proc.returncode == 2 and "effnet-lite0" in proc.stderr and not (tmp_path / "f").exists()


def test_unknown_folds(chain, tmp_path):
    proc = run_tool("p2g-train", "--trainset", chain["out"] / "work" / "train" / "folds", "--out", tmp_path / "m",
                    "--folds", "0,7", check=False)
    assert proc.returncode == 2 and "fold 7 does not exist" in proc.stderr
    proc = run_tool("p2g-train", "--trainset", chain["out"] / "work" / "train" / "folds", "--out", tmp_path / "m",
                    "--weight-decay", "-1", check=False)
    one_line_error(proc, "--weight-decay", "give --weight-decay 0 or more")
    proc = run_tool("p2g-train", "--trainset", chain["out"] / "work" / "train" / "folds", "--out", tmp_path / "m",
                    "--weight-decay", "101", check=False)
    one_line_error(proc, "--weight-decay", "100.0 or less")
    proc = run_tool("p2g-train", "--trainset", chain["out"] / "work" / "train" / "folds", "--out", tmp_path / "m",
                    "--weight-decay", "50", "--lr", "0.05", check=False)
    one_line_error(proc, "--weight-decay", "wipes the weights", "below 1 / --lr")
    assert not (tmp_path / "m").exists()


def one_line_error(proc, *words):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_encoder_options_it_does_not_take(synthetic, tmp_path):
    run_tool("p2g-rescale", "--prefix", synthetic["test"], "--out", tmp_path / "r")
    run_tool("p2g-mask", "--rescaled", tmp_path / "r", "--out", tmp_path / "m")
    proc = run_tool("p2g-features", "--rescaled", tmp_path / "r", "--mask", tmp_path / "m", "--out", tmp_path / "f",
                    "--encoder", "texture", "--shift-average", check=False)
    one_line_error(proc, "--shift-average", "the texture encoder does not take it", "(hipt)")
    proc = run_tool("p2g-features", "--rescaled", tmp_path / "r", "--mask", tmp_path / "m", "--out", tmp_path / "f",
                    "--encoder", "texture", "--context", "none", check=False)
    one_line_error(proc, "--context", "the texture encoder does not take it", "effnet-lite0, effnet-lite2, h-optimus-0")
    proc = run_tool("p2g-features", "--rescaled", tmp_path / "r", "--mask", tmp_path / "m", "--out", tmp_path / "f",
                    "--encoder", "hipt", check=False)
    one_line_error(proc, "--weights", "vit256_small_dino.pth")
    assert not (tmp_path / "f").exists()


def test_bad_truth_and_unknown_map_genes(chain, tmp_path):
    proc = run_tool("p2g-run", "--train", chain["train"], "--predict", chain["test"], "--outdir", tmp_path / "o",
                    "--truth", "test", check=False)
    one_line_error(proc, "SAMPLE=PREFIX")
    proc = run_tool("p2g-run", "--train", chain["train"], "--predict", chain["test"], "--outdir", tmp_path / "o",
                    "--truth", f"test={tmp_path}/none/", check=False)
    one_line_error(proc, "cnts.tsv", "truth file is missing")
    assert not (tmp_path / "o").exists()
    w = chain["out"] / "work" / "test"
    proc = run_tool("p2g-maps", "--result", chain["out"] / "test", "--rescaled", w / "rescale",
                    "--out", tmp_path / "maps", "--map-genes", "NOT_A_GENE", check=False)
    one_line_error(proc, "NOT_A_GENE", "gene-names.txt")
    assert not (tmp_path / "maps").exists()


def test_truth_outside_the_image(chain, tmp_path):
    import pandas as pd
    locs = pd.read_csv(chain["train"] + "locs-raw.tsv", sep="\t", index_col=0)
    locs["x"] += 1e6
    locs.to_csv(tmp_path / "locs-raw.tsv", sep="\t")
    w = chain["out"] / "work" / "train"
    proc = run_tool("p2g-evaluate", "--rescaled", w / "rescale", "--mask", w / "mask", "--result",
                    chain["out"] / "train", "--truth-counts", chain["train"] + "cnts.tsv", "--truth-locs",
                    tmp_path / "locs-raw.tsv", "--out", tmp_path / "e", check=False)
    one_line_error(proc, "locs-raw.tsv", "outside")
    assert not (tmp_path / "e").exists()
