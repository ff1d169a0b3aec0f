"""What the user named (`random:TYPE,k=v`, a config.json, a model directory, a GGUF file, a Hub id in the
Hugging Face cache, or a catalog id known only by its parameter count) -> a config to estimate from.

Nothing here imports torch, transformers or the benchmark harness; nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog.errors import EstimateError
from catalog.model_config import cached_hub_config, looks_like_a_path, parse_random_spec, read_config, split_alias


@dataclass
class ModelSource:
    name: str
    config: dict[str, Any] | None  # None: only params + model type are known (catalog row)
    basis: str  # where the shapes come from, in words
    params: int | None = None
    model_type: str | None = None
    task: str | None = None  # the catalog's task for the model, or the config's
    gguf: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _from_gguf(name: str, path: Path) -> ModelSource:
    from catalog.costmodel.memory import gguf_info

    try:
        info = gguf_info(path)
    except Exception as exc:
        raise EstimateError(f"Cannot read the GGUF header of {path} ({type(exc).__name__}: {exc}).") from exc
    kinds = ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in sorted(info["types"].items(), key=lambda kv: -kv[1]))
    return ModelSource(
        name,
        info["config"],
        f"shapes and quantisation read from the GGUF header of {path.name} ({kinds})",
        params=info["params"],
        gguf=info,
    )


def resolve_source(name: str, db: Any = None) -> ModelSource:
    """A config for `name`, without weights; a catalog row's params and model type when no config is at hand."""
    aliased = split_alias(name)
    if aliased:
        source = resolve_source(aliased[1], db)
        source.name = aliased[0]
        return source
    if name.startswith("random:"):
        return ModelSource(name, parse_random_spec(name), f"config from the spec {name}")
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return _from_gguf(name, path)
    if path.is_file():
        return ModelSource(name, read_config(path), f"config read from {path}")
    if path.is_dir():
        if (path / "config.json").is_file():
            return ModelSource(name, read_config(path / "config.json"), f"config read from {path / 'config.json'}")
        ggufs = sorted(path.glob("*.gguf"))
        if ggufs:
            return _from_gguf(name, ggufs[0])
        raise EstimateError(f"{path} has no config.json or GGUF file: not a model directory.")
    if looks_like_a_path(name):
        raise EstimateError(f"{name}: no such file or directory.")
    cached = cached_hub_config(name)
    if cached is not None:
        return ModelSource(name, read_config(cached), f"config from the Hugging Face cache ({name})")
    return _from_catalog(name, db)


def _from_catalog(name: str, db: Any) -> ModelSource:
    from sqlalchemy import select

    from catalog.db.schema import model_tasks, models

    if db is None:
        from catalog.db import open_database

        db = open_database()
    with db.connect() as conn:
        row = conn.execute(
            select(models.c.params, models.c.model_type, models.c.family_id, models.c.pipeline_tag).where(
                models.c.id == name
            )
        ).first()
        tasks = [t for (t,) in conn.execute(select(model_tasks.c.task_id).where(model_tasks.c.model_id == name))]
    if row is None:
        raise EstimateError(
            f"{name}: no config found (not a file, not in the Hugging Face cache) and not in the catalog. Pass a "
            "config.json, a model directory, a GGUF file or random:TYPE,key=value."
        )
    if not row.params:
        raise EstimateError(
            f"{name} has no parameter count in the catalog and no cached config.json: download its config "
            f"(`hf download {name} config.json`) or pass a local config.json."
        )
    return ModelSource(
        name,
        None,
        f"no config at hand: catalog row ({row.params / 1e6:.0f}M params, {row.model_type or row.family_id})",
        params=int(row.params),
        model_type=row.model_type or row.family_id,
        task=row.pipeline_tag or (tasks[0] if tasks else None),
    )
