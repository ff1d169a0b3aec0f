"""Rank a task's models for this user: constraints first, then a weighted, explained score."""

from catalog.recommend.constraints import Constraints, parse_bytes, parse_count
from catalog.recommend.engine import (
    DEFAULT_WEIGHTS,
    Component,
    Explanation,
    Figure,
    NoMatchError,
    Recommendation,
    Recommendations,
    explain,
    recommend,
)
from catalog.recommend.scoring import COMPONENTS, PROFILES

__all__ = [
    "COMPONENTS",
    "DEFAULT_WEIGHTS",
    "PROFILES",
    "Component",
    "Constraints",
    "Explanation",
    "Figure",
    "NoMatchError",
    "Recommendation",
    "Recommendations",
    "explain",
    "parse_bytes",
    "parse_count",
    "recommend",
]


# `catalog.recommend(task=...)` is the Python API; `catalog.recommend` is also this package. Making the module
# callable keeps both true without a second name.
import sys as _sys
import types as _types


class _CallableModule(_types.ModuleType):
    def __call__(self, *args: object, **kwargs: object) -> Recommendations:
        return recommend(*args, **kwargs)  # type: ignore[arg-type]


_sys.modules[__name__].__class__ = _CallableModule
