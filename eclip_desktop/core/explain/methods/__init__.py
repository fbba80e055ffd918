"""The method registry: one line per method module. Each module declares its `METHOD` (name,
options, needs; see base.py) next to its `scores`; the CLI, the window, sidecars and `reproduce`
read the declarations from here. Importing this package does not import torch."""
from __future__ import annotations

import importlib

from eclip_desktop.core.explain.methods.base import Method, MethodInput, Option  # noqa: F401

MODULES = [
    "itsm",
    "surgery",
    "gradcam",
    "rollout",
    "game",
    "gradeclip",
    "rise",
]

METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Adds a method (a module's METHOD) to the registry; the CLI and the window list it from then on."""
    if method.name in METHODS and METHODS[method.name] is not method:
        raise ValueError(f"a method named '{method.name}' is already registered")
    METHODS[method.name] = method
    return method


def unregister(name: str) -> None:
    METHODS.pop(name, None)


for _module in MODULES:
    register(importlib.import_module(f"eclip_desktop.core.explain.methods.{_module}").METHOD)


def method_names() -> list[str]:
    return list(METHODS)


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method '{name}': choose one of {', '.join(METHODS)}")
    return METHODS[name]
