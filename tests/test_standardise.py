"""p2g-predict --standardise: a section's features standardised with its own or the training sets' statistics."""
import json
import shutil

import numpy as np
import pytest

from pixel2gene.artifacts.model import ModelSet
from pixel2gene.artifacts.trainset import TrainingSet
from pixel2gene.errors import InputError
from pixel2gene.io.outputs import load_npy
from pixel2gene.prediction.predict import predict_sum
from pixel2gene.runner.layout import Layout
from pixel2gene.steps import predict
from pixel2gene.training.data import pooled_channel_stats


@pytest.fixture(scope="module")
def work(chain):
    encoder = json.loads((chain["out"] / "run.json").read_text())["args"]["encoder"]
    return Layout(chain["out"], encoder)


def run_predict(lay, name, out, mode):
    return predict.run(predict.Args(features=str(lay.features(name)), mask=str(lay.mask(name)),
                                    model=[str(lay.model)], out=str(out), standardise=mode, device="cpu",
                                    threads=1)).path


def test_the_model_keeps_the_training_sets_statistics(work):
    mean, std = ModelSet.open([work.model]).channel_stats()
    assert np.allclose(mean, load_npy(work.folds("train") / "channel-mean.npy"))
    assert np.allclose(std, load_npy(work.folds("train") / "channel-std.npy"), rtol=1e-5)


def test_training_statistics_are_what_a_new_section_is_standardised_with(work, tmp_path):
    own = run_predict(work, "test", tmp_path / "own", "section")
    trained = run_predict(work, "test", tmp_path / "trained", "training")
    assert json.loads((trained / "pred.json").read_text())["standardised_with"] == "training"
    a, b = load_npy(own / "pred-sum.npy"), load_npy(trained / "pred-sum.npy")
    assert not np.allclose(a, b)  # the rotated section's statistics are its own
    models = ModelSet.open([work.model])
    want = np.zeros_like(b)
    predict_sum(load_npy(work.features("test") / "features.npy", mmap=True), load_npy(work.mask("test") / "mask.npy"),
                *models.channel_stats(), models, want)
    assert np.array_equal(want, b)
    # the training section itself: its statistics are the model's
    same = [load_npy(run_predict(work, "train", tmp_path / m, m) / "pred-sum.npy") for m in ("section", "training")]
    assert np.allclose(*same, rtol=1e-4, atol=1e-5)


def test_pooled_statistics_weigh_each_training_set_alike(tmp_path):
    rng = np.random.default_rng(0)
    sets = [rng.normal(m, s, (4000, 3)) for m, s in ((0, 1), (2, 3))]
    folders = []
    for i, x in enumerate(sets):
        with TrainingSet.create(tmp_path / str(i), {"set": i}) as folder:
            folder.write_channel_stats(x.mean(0).astype(np.float32), x.std(0).astype(np.float32))
        folders.append(TrainingSet.open(tmp_path / str(i)))
    mean, std = pooled_channel_stats(folders)
    both = np.concatenate(sets)  # equal sizes: the pooled statistics are those of the union
    assert np.allclose(mean, both.mean(0), atol=1e-5) and np.allclose(std, both.std(0), atol=1e-5)


def test_a_model_without_statistics_is_refused_with_the_fix(work, tmp_path):
    damaged = tmp_path / "model"
    shutil.copytree(work.model, damaged)
    (damaged / "channel-mean.npy").unlink()
    with pytest.raises(InputError, match="channel-mean.npy: is missing .*delete the folder .*model and run p2g-select again"):
        ModelSet.open([damaged]).channel_stats()
