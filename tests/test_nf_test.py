"""The nf-test files (#27): nf-core pipelines test their modules and the whole pipeline with nf-test, which
needs Nextflow. Here they are checked as far as that is possible without it: each parses with the real
Groovy parser, names a module and process that exist, gives the process exactly its declared inputs,
asserts every output the process declares, and stages only files the repository has."""
import re

import pytest

from conftest import REPO
from test_pipeline_static import groovy, processes

MODULE_TESTS = sorted((REPO / "tests/modules").glob("*.nf.test"))
PIPELINE_TEST = REPO / "tests/pipeline.nf.test"


@pytest.fixture(scope="module")
def ast():
    files = [p.relative_to(REPO) for p in sorted((REPO / "modules/local").glob("*/main.nf"))]
    return groovy("nf_ast.groovy", *files, *[p.relative_to(REPO) for p in MODULE_TESTS + [PIPELINE_TEST]])


def test_every_nf_test_file_parses(ast):
    errors = {f: info["error"] for f, info in ast.items() if f.endswith(".nf.test") and info["error"]}
    assert not errors


def test_the_config_points_at_the_tests():
    text = (REPO / "nf-test.config").read_text()
    assert re.search(r'testsDir "tests"', text) and re.search(r'profile "test"', text)
    config = re.search(r'configFile "([^"]+)"', text).group(1)
    assert (REPO / config).is_file()


def test_every_module_has_a_stub_test():
    modules = {p.parent.name for p in (REPO / "modules/local").glob("*/main.nf")}
    assert {p.name.removesuffix(".nf.test") for p in MODULE_TESTS} == modules


def inputs_given(text):
    block = re.search(r'process \{\s*"""(.*?)"""', text, re.S).group(1)
    return [int(i) for i in re.findall(r"input\[(\d+)\] =", block)], block


@pytest.mark.parametrize("test_file", MODULE_TESTS, ids=lambda p: p.name)
def test_module_test_is_in_step_with_its_module(test_file, ast):
    text = test_file.read_text()
    script = (test_file.parent / re.search(r'script "([^"]+)"', text).group(1)).resolve()
    assert script.is_file(), script
    name = re.search(r'process "(\w+)"', text).group(1)
    proc = processes(ast)[name]
    assert REPO / proc["file"] == script
    given, block = inputs_given(text)
    assert given == list(range(len(proc["inputs"]))), f"{name}: inputs {given}, declared {len(proc['inputs'])}"
    asserted = set(re.findall(r"process\.out\.(\w+)", text))
    assert asserted == set(proc["emits"]), f"{name}: asserts {sorted(asserted)}, emits {proc['emits']}"
    assert 'options "-stub"' in text and "process.success" in text
    for path in re.findall(r'file\("\$\{projectDir\}/([^"]+)", checkIfExists: true\)', block):
        assert (REPO / path).exists(), f"{test_file.name} stages {path}, which the repository lacks"
    assert "file(" not in re.sub(r'file\("\$\{projectDir\}/[^"]+", checkIfExists: true\)', "", block)


def test_pipeline_test_checks_what_a_user_opens():
    text = PIPELINE_TEST.read_text()
    assert re.search(r'script "\.\./main\.nf"', text)
    assert text.count("test(") == 2 and 'options "-stub"' in text
    for name in ("train.h5ad", "test.html", "evaluation/train.held-out/summary.json",
                 "pipeline_info/software_versions.yml"):
        assert name in text, name
