"""The cost model: how fast and how big a model will be on this machine, from its config alone.

Pure Python (no torch, no numpy at import), so `catalog recommend` can estimate thousands of catalog models in a
few milliseconds. Layers: `arch` (shapes from a config, or derived from a parameter count), `counts` (FLOPs and
bytes per phase), `memory` (weights, activations, KV cache; GGUF headers), `machine` (calibrated peaks), `fit`
(efficiencies learned from this machine's runs), `estimator` (figures with their basis, intervals, fit advice),
`api` (estimate / check / record) and `catalog_figures` (the recommender's per-candidate estimates).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from catalog.costmodel.api import EstimateReport, check, estimate, record, record_terms

__all__ = ["EstimateReport", "check", "estimate", "record", "record_terms"]


def __getattr__(name: str) -> Any:
    """The entry points load on first use: `catalog recommend` needs only catalog_figures and what it imports."""
    if name in __all__:
        from catalog.costmodel import api

        return getattr(api, name)
    raise AttributeError(f"module 'catalog.costmodel' has no attribute {name!r}")
