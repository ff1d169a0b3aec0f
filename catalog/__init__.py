"""catalog: pick a pretrained model for a task, and prove the choice on your own hardware.

Python API: `catalog.recommend(task="ner")` returns ranked, explained Recommendations.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazy: `import catalog` stays cheap; the recommender loads the database layer on first use.
    if name == "recommend":
        import importlib

        return importlib.import_module("catalog.recommend")
    raise AttributeError(f"module 'catalog' has no attribute {name!r}")
