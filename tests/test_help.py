"""Every tool's --help shows each option's default and choices, and names only options the tool has."""
import importlib
import re
from dataclasses import MISSING, fields

import pytest

from conftest import REPO
from pixel2gene.tool.cli import Parser, parse
from pixel2gene.steps.imports import COMMANDS


def parsers():
    """(name, Args class) of every bin/ tool and of each p2g-import command."""
    out = []
    for path in sorted((REPO / "bin").glob("p2g-*")):
        m = re.search(r"from (pixel2gene\.[\w.]+) import Args, run", path.read_text())
        if m:
            out.append((path.name, importlib.import_module(m.group(1)).Args))
    out += [(f"p2g-import {name}", args) for name, (args, _, _) in COMMANDS.items()]
    return out


@pytest.mark.parametrize("tool, args_class", parsers(), ids=[p[0] for p in parsers()])
def test_help_shows_defaults_and_names_only_real_options(tool, args_class, monkeypatch):
    monkeypatch.setenv("COLUMNS", "2000")  # no wrapping inside option names
    parser = Parser(args_class, prog=tool)
    text = parser.format_help()
    flat = " ".join(text.split())
    real = {s for a in parser._actions for s in a.option_strings}
    own = re.sub(r"p2g-[a-z]+(?: [a-z-]+)? --[a-z0-9-]+", "", text)  # 'p2g-run --train' names another tool's option
    for option in set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", own)):
        assert option in real, f"{tool} --help mentions {option}, which it does not have"
    for f in fields(args_class):
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if default in (MISSING, None, "", []):
            continue
        flag = "--" + f.name.replace("_", "-")
        shown = (flag if default else "--no-" + flag[2:]) if f.type is bool else \
            " ".join(map(str, default)) if isinstance(default, list) else str(default)
        assert f"(default: {shown})" in flat, (tool, f.name, shown)


def test_encoder_names_are_listed():
    from pixel2gene.features import list_encoders
    for tool in ("p2g-run", "p2g-features"):
        args_class = dict(parsers())[tool]
        text = Parser(args_class, prog=tool).format_help()
        assert all(name in text for name in list_encoders()), tool


def test_a_usage_error_is_one_line(capsys):
    from pixel2gene.runner.run import Args
    with pytest.raises(SystemExit) as exc:
        parse(Args, "", ["--train", "x", "--predict", "y", "--outdir", "o", "--qc", "maybe"], prog="p2g-run")
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and err[0].startswith("error: ") and "--qc" in err[0], err


def test_flags_can_be_switched_both_ways():
    from pixel2gene.runner.run import Args
    base = ["--train", "x", "--predict", "y", "--outdir", "o"]
    assert parse(Args, "", base).keep_work is True
    assert parse(Args, "", base + ["--no-keep-work"]).keep_work is False
    assert parse(Args, "", base + ["--shift-average"]).shift_average is True


def renamed_options():
    """(tool, Args class, field) for every option that still takes an old spelling."""
    return [(tool, args_class, f) for tool, args_class in parsers() for f in fields(args_class)
            if "renamed_from" in f.metadata]


def test_a_renamed_option_keeps_its_old_spelling_for_one_release(capsys):
    from pixel2gene.tool.options import option_name
    found = {f"{tool} {f.metadata['renamed_from']}" for tool, _, f in renamed_options()}
    assert {"p2g-rescale --train", "p2g-mask --mask", "p2g-folds --block-um", "p2g-maps --genes", "p2g-maps --top",
            "p2g-train --data", "p2g-features --augment", "p2g-run --mask"} <= found, found
    for tool, args_class, f in renamed_options():
        argv = []
        for g in fields(args_class):  # the required options, with any value
            if g.default is MISSING and g.default_factory is MISSING and g.name != f.name:
                argv += [option_name(g.name), "x"]
        value = {bool: [], int: ["3"], float: ["3.5"]}.get(f.type, ["A"])
        args = parse(args_class, "", argv + [f.metadata["renamed_from"], *value], prog=tool)
        expected = {bool: True, int: 3, float: 3.5}.get(f.type, ["A"] if f.metadata.get("nargs") else "A")
        assert getattr(args, f.name) == expected, (tool, f.name)
        err = capsys.readouterr().err
        assert f"{f.metadata['renamed_from']} is now {option_name(f.name)}" in err, (tool, err)
