"""reftrace rules for this pipeline (run by tests/test_pipeline_static.py)."""
from reftrace import ConfigFile, Module
from reftrace.linting import LintError, LintResults, configrule, rule

RESOURCE_LABELS = {"process_low", "process_medium", "process_high"}
KNOWN_LABELS = RESOURCE_LABELS | {"process_gpu"}


@rule
def one_resource_label(module: Module, results: LintResults):
    for process in module.processes:
        names = [label.label for label in process.labels]
        resource = [n for n in names if n in RESOURCE_LABELS]
        if len(resource) != 1:
            results.errors.append(LintError(line=process.line,
                                            error=f"process '{process.name}' needs exactly one resource label, has {resource}"))
        unknown = [n for n in names if n not in KNOWN_LABELS]
        if unknown:
            results.errors.append(LintError(line=process.line, error=f"process '{process.name}' has unknown labels {unknown}"))


@rule
def image_from_the_config(module: Module, results: LintResults):
    """One place picks the images (conf/base.config and the gpu profile): a module's own container directive
    would beat the config's generic setting and read params inside the module."""
    for process in module.processes:
        if process.containers:
            results.errors.append(LintError(line=process.line,
                                            error=f"process '{process.name}' sets its own container"))


@configrule
def params_in_closures(config: ConfigFile, results: LintResults):
    """Process directives that read params must be closures, or -params-file values come too late."""
    for scope in config.process_scopes:
        for named in [scope] + list(scope.named_scopes):
            for directive in named.directives:
                value = directive.value
                if value and value.params and not value.in_closure:
                    results.errors.append(LintError(directive.line_number,
                                                    f"directive {directive.name} reads params outside a closure"))
