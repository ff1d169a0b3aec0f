"""Library entry points behind `catalog evidence ...`: import a source, list sources, list and show evidence."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from catalog.db.schema import evidence, evidence_sources, task_aliases, tasks
from catalog.errors import EvidenceError
from catalog.evidence.importers import FORMATS, ImportContext, detect, module
from catalog.evidence.query import _COLUMNS, EvidenceRow, _rows
from catalog.evidence.records import SOURCE_KINDS, ImportReport, Parsed
from catalog.evidence.store import import_parsed

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from catalog.db.engine import Database

ProgressFactory = Callable[[Parsed], Callable[[int], None] | None]


def task_names(connection: Connection) -> dict[str, str]:
    """Every spelling of a task the catalog knows (ids and aliases, normalised) -> task id."""
    from catalog.evidence.registry import normalise_name

    names = {normalise_name(t): t for t in connection.execute(select(tasks.c.id)).scalars()}
    for alias, task_id in connection.execute(select(task_aliases.c.alias, task_aliases.c.task_id)):
        names[normalise_name(alias)] = task_id
    return names


def _is_hub_location(location: str) -> bool:
    return location.startswith("hf://") or location.startswith("https://huggingface.co/datasets/")


@contextmanager
def _local_copy(location: str) -> Iterator[Path]:
    """A local path for PATH_OR_URL: paths as they are, http(s) URLs downloaded once to a temporary file."""
    if not location.startswith(("http://", "https://")):
        yield Path(location).expanduser()
        return
    import urllib.request
    from urllib.parse import urlparse

    name = Path(urlparse(location).path).name or "download"
    with tempfile.TemporaryDirectory(prefix="catalog-evidence-") as folder:
        target = Path(folder) / name
        try:
            with urllib.request.urlopen(location, timeout=60) as response, target.open("wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
        except OSError as exc:
            raise EvidenceError(f"Cannot download {location}: {exc}. Check the URL or download it first.") from exc
        yield target


def task_benchmarks_all(connection: Connection) -> tuple[tuple[str, dict[str, Any]], ...]:
    """(task id, seeded benchmark record) for every task's benchmarks."""
    return tuple(
        (task_id, bench)
        for task_id, benches in connection.execute(select(tasks.c.id, tasks.c.benchmarks))
        for bench in benches or ()
        if isinstance(bench, dict)
    )


def import_evidence(
    db: Database,
    location: str,
    *,
    fmt: str | None = None,
    kind: str | None = None,
    key: str | None = None,
    model: str | None = None,
    published: datetime | None = None,
    progress: ProgressFactory | None = None,
) -> ImportReport:
    """Import one source (file, directory, URL or hf://datasets/... location) and replace its earlier import.
    `model` names the model of a single-model source (an .eval_results file) whose path does not; `published` dates
    a source that gives no date of its own (its rows without a date of their own take it)."""
    if kind is not None and kind not in SOURCE_KINDS:
        raise EvidenceError(f"Unknown source kind '{kind}'. Use one of: {', '.join(SOURCE_KINDS)}.")
    if fmt is not None:
        module(fmt)  # unknown names fail here, with suggestions
    with db.connect() as connection:
        names = task_names(connection)
        benchmarks = task_benchmarks_all(connection)
    context = ImportContext(task_names=names, kind=kind, key=key, model=model, benchmarks=benchmarks)
    if _is_hub_location(location):
        from catalog.evidence.importers.openllm import parse_hub

        parsed = _dated(parse_hub(location, context), published)
        return import_parsed(db, parsed, progress(parsed) if progress else None)
    with _local_copy(location) as path:
        chosen = fmt or detect(path)
        if not path.exists():
            raise EvidenceError(f"{path}: no such file or directory. Check the path.")
        parsed = _dated(module(chosen).parse(str(path), context), published)
        if location.startswith(("http://", "https://")) and key is None:
            parsed.source = replace(parsed.source, location=location, key=f"{chosen}:{location}")
        return import_parsed(db, parsed, progress(parsed) if progress else None)


def parse_published(text: str) -> datetime:
    """An ISO date (or date and time) for `--published`; a one-line error otherwise."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise EvidenceError(f"--published {text!r} is not an ISO date: give it as YYYY-MM-DD.") from None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    if not 1990 <= value.year <= 2100:
        raise EvidenceError(f"--published {text!r} is outside 1990-2100: give the date the results are from.")
    return value


def _dated(parsed: Parsed, published: datetime | None) -> Parsed:
    """The source dated by `published` where it gives no date of its own (a date it gives wins)."""
    if published is not None and parsed.source.published_at is None:
        parsed.source = replace(parsed.source, published_at=published)
    return parsed


def list_sources(db: Database) -> list[dict[str, Any]]:
    with db.connect() as connection:
        rows = connection.execute(select(evidence_sources).order_by(evidence_sources.c.key)).mappings().all()
    out = []
    for row in rows:
        data = dict(row)
        for name in ("published_at", "imported_at"):
            data[name] = data[name].isoformat(timespec="seconds") if data[name] else None
        out.append(data)
    return out


def list_evidence(
    db: Database,
    *,
    model: str | None = None,
    task: str | None = None,
    benchmark: str | None = None,
    limit: int = 0,
) -> list[EvidenceRow]:
    """Evidence rows filtered by model id, task (id or alias) and benchmark id of that task (or of any task)."""
    from catalog.evidence.benchmarks import matches, parse_benchmarks
    from catalog.evidence.query import evidence_for_model, evidence_for_task, task_benchmarks

    with db.connect() as connection:
        if model:  # a pre-2024 Hub id or another case names the catalog's model, as in the stored rows
            from catalog.db.schema import models
            from catalog.evidence.identity import ModelIds

            model = ModelIds(connection.execute(select(models.c.id)).scalars()).resolve(model) or model
        task_id = None
        if task:
            from catalog.queries import resolve_task

            task_id = resolve_task(connection, task)
        if task_id is not None:
            grouped = evidence_for_task(connection, task_id, [model] if model else None, with_details=True)
            rows = [row for group in grouped.values() for row in group]
        else:
            if model:
                rows = evidence_for_model(connection, model)
            else:
                statement = select(*_COLUMNS).order_by(evidence.c.model_id, evidence.c.task_id, evidence.c.dataset)
                rows = list(_rows(connection, statement))
        if benchmark:
            candidates = (
                [(task_id, b) for b in task_benchmarks(connection, task_id)]
                if task_id
                else [(r.id, b) for r in connection.execute(select(tasks.c.id, tasks.c.benchmarks)) for b in r[1] or []]
            )
            wanted = [(owner, parse_benchmarks([b])[0]) for owner, b in candidates if b["id"] == benchmark]
            if not wanted:
                from catalog.errors import UnknownNameError

                raise UnknownNameError(
                    benchmark, [b["id"] for _, b in candidates], hint="Run `catalog tasks` to see them."
                )
            # the ranking's own rule, for the task each benchmark belongs to
            rows = [r for r in rows if any(matches(b, r, owner) for owner, b in wanted)]
    return rows[:limit] if limit else rows


def model_evidence(db: Database, model_id: str) -> list[EvidenceRow]:
    from catalog.evidence.query import evidence_for_model

    with db.connect() as connection:
        return evidence_for_model(connection, model_id)


def known_formats() -> list[str]:
    return list(FORMATS)
