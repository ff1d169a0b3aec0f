"""Backends that load and run models, behind a lazy registry: name -> "module:attr", imported only when used."""

from __future__ import annotations

import importlib
from typing import Any

from catalog.errors import UnknownNameError

BACKENDS: dict[str, str] = {
    "transformers": "bench.backends.transformers_backend:TransformersBackend",
}


class UnknownBackendError(UnknownNameError):
    kind = "backend"
    listing = "Available: " + ", ".join(sorted(BACKENDS)) + "."


def get_backend(name: str) -> Any:
    """The backend class registered under `name`; unknown names get suggestions."""
    if name not in BACKENDS:
        raise UnknownBackendError(name, BACKENDS)
    module, _, attr = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), attr)
