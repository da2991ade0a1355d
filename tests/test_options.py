"""Options declared once: p2g-run takes every step's options from the steps, and one check names the option."""
from dataclasses import dataclass, field, fields
from typing import List, Optional

import pytest

from pixel2gene.errors import InputError
from pixel2gene.features import option_classes
from pixel2gene.runner import run as runner
from pixel2gene.steps import features
from pixel2gene.tool.options import check, compose, default_of, option_name


def step_options(args_class):
    """A step's own settings: not the folders it reads, its output, a sample, or what the runner sets per call."""
    return [f for f in fields(args_class) if "upstream" not in f.metadata and f.name != "out"
            and f.metadata.get("role") != "sample" and f.name not in runner.PER_CALL]


def test_every_step_option_is_a_p2g_run_option_with_the_same_default():
    run_fields = {f.name: f for f in fields(runner.Args)}
    checked = 0
    for step in runner.STEPS:
        for f in step_options(step.Args):
            assert f.name in run_fields, f"{step.__name__}: {option_name(f.name)} is not a p2g-run option"
            assert default_of(run_fields[f.name]) == default_of(f), (step.__name__, f.name)
            checked += 1
    assert checked > 30 and {"context", "weight_decay", "map_px", "fold_block_um"} <= set(run_fields)


def test_a_new_field_of_a_step_reaches_the_runner_without_being_written_there():
    @dataclass
    class Step:
        out: str = field(metadata=dict(role="runtime"))
        sharpness: float = field(default=1.5, metadata=dict(least=0, help="a new setting"))

    @dataclass
    class Own:
        outdir: str = field(metadata=dict(help="where"))

    Run = compose("Run", Own, Step)
    assert [f.name for f in fields(Run)] == ["outdir", "sharpness"] and Run(outdir="o").sharpness == 1.5


def test_one_name_declared_two_ways_is_refused():
    @dataclass
    class A:
        seed: int = 0

    @dataclass
    class B:
        seed: int = 1

    with pytest.raises(TypeError, match="--seed means two things"):
        compose("Both", A, B)


def test_each_encoder_option_is_a_feature_option():
    names = {f.name for f in fields(features.Args)}
    for options in option_classes():
        assert {f.name for f in fields(options)} <= names, options
    assert {"context", "weights", "shift_average", "random_init"} <= names


@dataclass
class Toy:
    mode: str = field(default="a", metadata=dict(choices=["a", "b"]))
    n: int = field(default=1, metadata=dict(least=1))
    rate: float = field(default=1.0, metadata=dict(above=0, most=10))
    lists: List[str] = field(default_factory=list, metadata=dict(nargs="*", choices=["x", "y"]))
    table: Optional[str] = field(default=None, metadata=dict(role="file"))


@pytest.mark.parametrize("change, words", [
    (dict(mode="c"), ["--mode", "unknown value 'c'", "choose one of a, b"]),
    (dict(n=0), ["--n", "0 is too small", "give --n 1 or more"]),
    (dict(rate=0.0), ["--rate", "give --rate a value above 0"]),
    (dict(rate=11.0), ["--rate", "11.0 is too large", "give --rate 10 or less"]),
    (dict(lists=["x", "z"]), ["--lists", "unknown value 'z'"]),
    (dict(table="/no/such/file.tsv"), ["/no/such/file.tsv", "file is missing", "give --table an existing file"]),
])
def test_the_check_names_the_option_and_the_fix(change, words):
    check(Toy())
    with pytest.raises(InputError) as err:
        check(Toy(**change))
    assert all(w in str(err.value) for w in words), str(err.value)
