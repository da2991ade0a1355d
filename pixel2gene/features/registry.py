"""A small registry of encoders, in the manner of timm's model registry: each name has a factory and the
dataclass of the options that encoder takes (its own config, beside the model).

Built-in encoders register themselves with @register_encoder(name, options=...). A user adds one without
editing the pipeline by shipping a package with an entry point in the group "pixel2gene.encoders" pointing
at a factory (see docs/encoders.md); a factory's `options` attribute, when it has one, names the built-in
options (--weights, --random-init, ...) it takes.
"""
from dataclasses import MISSING, dataclass, fields
from importlib.metadata import entry_points
from typing import Callable, Dict

from ..errors import InputError


@dataclass
class NoOptions:
    """An encoder that takes no option (the texture encoder)."""


@dataclass
class Entry:
    factory: Callable
    options: type = NoOptions


_REGISTRY: Dict[str, Entry] = {}
ENTRY_POINT_GROUP = "pixel2gene.encoders"
# ImageNet EfficientNet-Lite0: installs from PyPI, and best of what does by CV on HER2ST C2 (docs/benchmarks.md)
DEFAULT_ENCODER = "effnet-lite0"


def register_encoder(name: str, options: type = NoOptions):
    def wrap(factory):
        _REGISTRY[name] = Entry(factory, options)
        return factory
    return wrap


def _plugins():
    try:
        return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    except Exception:  # a broken third-party install must not break the built-ins
        return {}


def list_encoders():
    return sorted(set(_REGISTRY) | set(_plugins()))


def _entry(name: str) -> Entry:
    if name not in _REGISTRY:
        plugin = _plugins().get(name)
        if plugin is None:
            raise KeyError(f"unknown encoder '{name}'; available: {', '.join(list_encoders())}")
        factory = plugin.load()
        _REGISTRY[name] = Entry(factory, getattr(factory, "options", NoOptions))
    return _REGISTRY[name]


def option_classes():
    """The option dataclasses of the built-in encoders, each once: together, the options --help lists."""
    return list(dict.fromkeys(entry.options for entry in _REGISTRY.values()))


def create_encoder(name: str, **options):
    """The encoder `name`, built with these keyword options (the library's way; tools use from_settings)."""
    return _entry(name).factory(**options)


def _default(f):
    return f.default_factory() if f.default_factory is not MISSING else f.default


def check_settings(name: str, settings: dict) -> None:
    """`settings` (the values of every encoder option, from a tool's Args) suit encoder `name`: an option set to
    other than its default that it does not take is a one-line error naming the option."""
    takes = {f.name for f in fields(_entry(name).options)}
    for options in option_classes():
        for f in fields(options):
            if f.name not in takes and f.name in settings and settings[f.name] != _default(f):
                flag = "--" + f.name.replace("_", "-")
                users = [n for n, e in sorted(_REGISTRY.items()) if f.name in {g.name for g in fields(e.options)}]
                raise InputError(flag, f"the {name} encoder does not take it",
                                 f"leave {flag} out, or use an encoder that takes it ({', '.join(users)})")


def preflight(name: str, settings: dict) -> None:
    """What an encoder can check of its settings before a run's first step (a checkpoint that does not fit),
    when its factory says how (a `preflight` attribute taking the same options)."""
    check = getattr(_entry(name).factory, "preflight", None)
    if check:
        takes = {f.name for f in fields(_entry(name).options)}
        check(**{k: settings[k] for k in takes if k in settings})


def from_settings(name: str, settings: dict):
    """The encoder `name` built from a tool's settings, once check_settings has passed them."""
    check_settings(name, settings)
    takes = {f.name for f in fields(_entry(name).options)}
    return create_encoder(name, **{k: settings[k] for k in takes if k in settings})
