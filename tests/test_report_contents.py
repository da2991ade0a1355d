"""The report a user reads: all steps timed, readable curves, inputs and parameters as tables."""
import html
import re

from pixel2gene.report.curves import curves_svg


def visible_text(page: str) -> str:
    page = re.sub(r"<(style|script)>.*?</\1>", " ", page, flags=re.S)
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))


def test_a_predicted_samples_report_times_the_training_samples_steps_too(chain):
    page = (chain["out"] / "test.html").read_text(encoding="utf-8")
    steps = page[page.index("Steps and timings"):page.index("<h2>Inputs")]
    for output in ("test/rescale", "test/pred", "train/rescale", "train/mask", "train/folds", "work/genes",
                   "work/model"):
        assert f">{output}<" in steps, output


def test_report_states_both_pixel_sizes_the_training_inputs_and_the_options(chain):
    text = visible_text((chain["out"] / "test.html").read_text(encoding="utf-8"))
    assert "0.8 µm per pixel of he-raw" in text and "0.5 µm per pixel, rescaled" in text
    assert f"training sample 1 {chain['train']}" in text
    assert "--epochs 60" in text and "--n-folds 3" in text and "device cpu" in text
    assert '"n_genes"' not in text  # parameters are a table, not a JSON dump


def test_gene_names_are_not_printed_twice(chain):
    page = (chain["out"] / "test.html").read_text(encoding="utf-8")
    gallery = page[page.index("<h3>Gene maps"):page.index("<h2>Accuracy")]
    assert "<figcaption>" not in gallery  # each map draws its gene's name as its title


def test_training_curves_have_axis_titles_a_legend_and_epochs():
    curves = {"step": [5, 10, 15, 20], "train": [[1.0, 1.1], [0.8, 0.9], [0.6, 0.7], [0.5, 0.6]],
              "val": [[1.2, 1.3], [1.0, 1.1], [0.9, 1.0], [0.85, 0.95]]}
    svg = curves_svg(curves, [0, 1], "folds 0, 1", steps_per_epoch=5)
    text = visible_text(svg)
    assert "epoch" in text and "loss" in text and "training" in text and "held-out" in text
    assert "fold 0" in text and "fold 1" in text
    assert re.search(r">4<", svg)  # the last point is epoch 4 (20 steps at 5 per epoch), not step 20
