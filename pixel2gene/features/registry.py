"""A small registry of encoders, in the manner of timm's model registry.

Built-in encoders register themselves with @register_encoder. A user adds one
without editing the pipeline by shipping a package with an entry point in the
group "pixel2gene.encoders" pointing at a factory (see docs/encoders.md).
"""
from importlib.metadata import entry_points

_REGISTRY = {}
ENTRY_POINT_GROUP = "pixel2gene.encoders"


def register_encoder(name: str):
    def wrap(factory):
        _REGISTRY[name] = factory
        return factory
    return wrap


def _plugins():
    try:
        return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    except Exception:  # a broken third-party install must not break the built-ins
        return {}


def list_encoders():
    return sorted(set(_REGISTRY) | set(_plugins()))


def create_encoder(name: str, **options):
    if name not in _REGISTRY:
        plugin = _plugins().get(name)
        if plugin is None:
            raise KeyError(f"unknown encoder '{name}'; available: {', '.join(list_encoders())}")
        _REGISTRY[name] = plugin.load()
    return _REGISTRY[name](**options)
