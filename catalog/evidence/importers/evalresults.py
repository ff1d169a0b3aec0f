"""The Hub's newer evaluation results: YAML files under a model repo's `.eval_results/` folder
(https://huggingface.co/docs/hub/eval-results; spec `eval_results.yaml` in huggingface/hub-docs). Each file is a
list of entries:

    - dataset: {id: cais/hle, task_id: default, config: ..., split: ..., revision: <sha>}
      value: 20.90
      verifyToken: <signature>          # the Hub's "verified" badge
      date: "2025-01-15"
      source: {url: ..., name: ..., user: ..., org: ...}
      evaluation_framework: inspect-ai
      notes: "tools"

read with huggingface_hub's `parse_eval_result_entries` (its `EvalResultEntry`; the same fields are read here when the
installed huggingface_hub predates it), and the fields that class does not carry (config, split,
evaluation_framework) from the entry itself; unknown fields are ignored. The same entries
arrive from the Hub API as a model's `evalResults` (`catalog sync`, catalog.evidence.hub).

An entry names no metric: its value is the benchmark's own score. The metric (and task) come from the registry's
`benchmark_datasets` (data/metrics.yaml), else from the catalog.yaml benchmarks listing the dataset (when they agree
on one metric); an entry on any other dataset is skipped. Every row keeps the protocol "hub eval.yaml" (the
benchmark's eval.yaml task, not the Open LLM Leaderboard's lm-evaluation-harness set-up), with the entry's notes
appended (`note_variant`: "hub eval.yaml, with tools"), so a score with tools is never compared with a plain one.
Percent or fraction is read from the value's range (ambiguous values refused). A `verifyToken` (or the API's
`verified: true`) sets the verified flag; the catalog does not check the signature itself.

Locations: one YAML file, a `.eval_results` folder, a model repo folder holding one, or a folder of such repos
(`<org>/<name>/.eval_results/` or `<org>__<name>/.eval_results/`). The model id is `--model`, else read from the
path (`<org>/<name>` or `<org>__<name>` above `.eval_results`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from catalog.errors import EvidenceError
from catalog.evidence.importers import ImportContext, parse_date, read_text, source_info
from catalog.evidence.records import Item, Parsed, Skipped, result

FORMAT = "hub-eval-results"
FOLDER = ".eval_results"
PROTOCOL = "hub eval.yaml"
_SUFFIXES = (".yaml", ".yml")


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES)


def _model_from(repo: Path) -> str | None:
    """`org__name` -> org/name; `.../org/name` -> org/name."""
    if "__" in repo.name:
        org, _, name = repo.name.partition("__")
        return f"{org}/{name}" if org and name else None
    if repo.parent.name and repo.parent != repo:
        return f"{repo.parent.name}/{repo.name}"
    return None


def _files(path: Path, model: str | None) -> list[tuple[str | None, Path]]:
    """(model id, file) for every eval-results file under `path`."""
    if path.is_file():
        repo = path.parent.parent if path.parent.name == FOLDER else None
        return [(model or (_model_from(repo) if repo else None), path)]
    if path.name == FOLDER:
        return [(model or _model_from(path.parent), f) for f in _yaml_files(path)]
    if (path / FOLDER).is_dir():
        return [(model or _model_from(path), f) for f in _yaml_files(path / FOLDER)]
    found = sorted({*path.glob(f"*/{FOLDER}"), *path.glob(f"*/*/{FOLDER}")})
    return [
        (model or _model_from(folder.parent), f) for folder in found if folder.is_dir() for f in _yaml_files(folder)
    ]


def _looks_like_entries(path: Path) -> bool:
    import yaml

    try:
        head = path.open("rb").read(65536).decode("utf-8", errors="replace")
        data = yaml.safe_load(head)
    except (OSError, yaml.YAMLError):
        return False
    return (
        isinstance(data, list)
        and bool(data)
        and isinstance(data[0], dict)
        and isinstance(data[0].get("dataset"), dict)
        and "value" in data[0]
    )


def detect(path: Path) -> bool:
    if path.is_file():
        return path.suffix.lower() in _SUFFIXES and (path.parent.name == FOLDER or _looks_like_entries(path))
    if not path.is_dir():
        return False
    try:
        return bool(_files(path, None))
    except OSError:
        return False


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


_TOOLS = {"tools": "with tools", "with tools": "with tools", "tool use": "with tools", "with tool use": "with tools",
          "no tools": "", "without tools": "", "no tool use": ""}  # fmt: skip


def note_variant(notes: str | None) -> str | None:
    """The protocol words of an entry's notes: lower case, separators as spaces, end punctuation dropped, and the
    spellings of the documented examples made one ("With tools", "tools" -> "with tools"). "No tools" is the
    documented default (an entry without notes runs without tools), so it is no variant at all. Anything else is kept
    as written, so two set-ups are never taken for one."""
    if not notes:
        return None
    text = " ".join(notes.lower().replace("_", " ").replace("-", " ").split()).strip(" .;:!")
    return _TOOLS.get(text, text) or None


def _has_nul(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if depth > 32:
        return True  # nested beyond any real entry: refused like a NUL
    if isinstance(value, dict):
        return any(_has_nul(k, depth + 1) or _has_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v, depth + 1) for v in value)
    return False


def _benchmark_metric(
    dataset: str, config: str | None, benchmarks: Sequence[tuple[str, Mapping[str, Any]]]
) -> tuple[str, str | None] | str | None:
    """(metric, task) of a bare value on `dataset`: the registry's benchmark_datasets, else the catalog.yaml
    benchmarks listing it (a listed dataset, or an aggregate member such as an MTEB task, with its config); the
    task is None when benchmarks of several tasks agree on the metric. None when no benchmark lists it; a text
    naming the candidates when they disagree on the metric."""
    from catalog.evidence.registry import registry

    known = registry().benchmark_datasets.get(dataset.lower())
    if known is not None:
        return known
    wanted, given = dataset.lower(), (config or "default").lower()
    found: set[tuple[str, str]] = set()
    for task_id, bench in benchmarks:
        for entry in bench.get("datasets") or ():
            name, _, entry_config = str(entry).partition(":")
            if name.lower() == wanted and bench.get("metric") and (not entry_config or given == entry_config.lower()):
                found.add((str(bench["metric"]), task_id))
        for member in bench.get("aggregate") or ():
            if not isinstance(member, Mapping) or str(member.get("dataset", "")).lower() != wanted:
                continue
            metric = member.get("metric") or bench.get("metric")
            if metric and (not member.get("config") or given == str(member["config"]).lower()):
                found.add((str(metric), task_id))
    metrics = {metric for metric, _ in found}
    if len(metrics) > 1:
        return ", ".join(sorted(f"{metric} for {task}" for metric, task in found))
    if not metrics:
        return None
    tasks = {task for _, task in found}
    return metrics.pop(), (tasks.pop() if len(tasks) == 1 else None)


def _fallback_entries(data: list[dict[str, Any]]) -> list[Any]:
    """The documented fields of each entry, as huggingface_hub's EvalResultEntry names them (for a huggingface_hub
    older than its eval-results module): dataset.id and value required, a source needs its url."""
    from types import SimpleNamespace

    entries = []
    for item in data:
        dataset, source = item["dataset"], item.get("source") or {}
        if not isinstance(source, dict) or (source and "url" not in source):
            raise ValueError("a source needs its url")
        entries.append(
            SimpleNamespace(
                dataset_id=dataset["id"], task_id=dataset.get("task_id"), value=item["value"],
                dataset_revision=dataset.get("revision"), verify_token=item.get("verifyToken"),
                date=item.get("date"), source_url=source.get("url"), source_name=source.get("name"),
                source_user=source.get("user"), source_org=source.get("org"), notes=item.get("notes"),
            )
        )  # fmt: skip
    return entries


def _hub_reader() -> Any:
    """huggingface_hub's parse_eval_result_entries where the installed version has it, else the same reading here."""
    try:
        from huggingface_hub import parse_eval_result_entries
    except ImportError:
        return _fallback_entries
    return parse_eval_result_entries


def entry_items(
    model_id: str,
    entries: Any,
    benchmarks: Sequence[tuple[str, Mapping[str, Any]]] = (),
    *,
    file_url: str | None = None,
) -> Iterator[Item]:
    """Rows from a list of eval-results entries (a file's, or a Hub API item's `evalResults`), or why each was
    skipped. An API entry may wrap the file's entry as {"data": {...}, "verified": ..., "filename": ...}, or report
    a file the Hub could not validate as {"filename": ..., "error": ...}."""
    parse_entries = _hub_reader()
    for raw in entries if isinstance(entries, list) else [entries]:
        if not isinstance(raw, dict):
            yield Skipped("malformed-eval-result", f"{model_id}: {type(raw).__name__}")
            continue
        if _has_nul(raw):  # PostgreSQL stores no NUL in text or JSON: the entry, not the model, is refused
            yield Skipped("unstorable-entry", f"{model_id}: a NUL character or nesting too deep")
            continue
        if "error" in raw:
            yield Skipped("invalid-on-hub", f"{model_id}: {raw.get('filename')}: {raw['error']}")
            continue
        data: dict[str, Any] = raw["data"] if isinstance(raw.get("data"), dict) else raw
        dataset_raw: dict[str, Any] = data["dataset"] if isinstance(data.get("dataset"), dict) else {}
        if not _text(dataset_raw.get("id")):
            yield Skipped("no-dataset", model_id)
            continue
        if data.get("value") is None:
            yield Skipped("no-value", f"{model_id}: {dataset_raw.get('id')}")
            continue
        try:  # huggingface_hub's reader; the older spec names the subset `config` instead of `task_id`
            (entry,) = parse_entries([{**data, "dataset": {"task_id": dataset_raw.get("config"), **dataset_raw}}])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            yield Skipped("malformed-eval-result", f"{model_id}: {type(exc).__name__}: {exc}")
            continue
        dataset = str(entry.dataset_id).strip()
        config = _text(dataset_raw.get("config")) or _text(entry.task_id)
        mapped = _benchmark_metric(dataset, config, benchmarks)
        if mapped is None:
            yield Skipped("unknown-benchmark", f"{model_id}: {dataset} (add it to benchmark_datasets in metrics.yaml)")
            continue
        if isinstance(mapped, str):
            yield Skipped("ambiguous-benchmark", f"{model_id}: {dataset} ({mapped})")
            continue
        metric, task_id = mapped
        notes = _text(entry.notes)
        variant = note_variant(notes)
        verified = raw.get("verified") is True or bool(_text(entry.verify_token))
        source_name = _text(entry.source_name)
        details = {
            k: v
            for k, v in (
                ("task_id", _text(entry.task_id)),
                ("dataset_revision", _text(entry.dataset_revision)),
                ("notes", notes),
                ("source_name", source_name),
                ("source_user", _text(entry.source_user)),
                ("source_org", _text(entry.source_org)),
                ("filename", _text(raw.get("filename"))),
                ("verify_token", "present" if _text(entry.verify_token) else None),
            )
            if v
        }
        yield result(
            model_id=model_id,
            task_id=task_id,
            dataset=dataset[:255],
            metric_raw=metric,
            value=entry.value,
            scale=None,
            dataset_config=config[:128] if config else None,
            split=(_text(dataset_raw.get("split")) or "")[:64] or None,
            protocol=f"{PROTOCOL}, {variant}"[:128] if variant else PROTOCOL,
            harness=(_text(data.get("evaluation_framework")) or "")[:64] or None,
            source_url=_text(entry.source_url) or file_url,
            source_date=parse_date(entry.date),
            self_reported=not verified,
            verified=verified,
            details=details,
        )


def _load(file: Path) -> Any:
    import yaml

    try:
        data = yaml.safe_load(read_text(file))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise EvidenceError(f"{file}: not valid YAML{at} (truncated file?); nothing was imported.") from exc
    if not isinstance(data, list):
        raise EvidenceError(
            f"{file}: an eval-results file is a YAML list of results (dataset, value ...), "
            f"not a {type(data).__name__}; nothing was imported."
        )
    return data


def _items(files: list[tuple[str | None, Path]], context: ImportContext, parsed: Parsed) -> Iterator[Item]:
    for model_id, file in files:
        parsed.ticks[0] += 1
        entries = _load(file)
        if model_id is None:
            raise EvidenceError(
                f"{file}: cannot tell which model these results are for; name it with --model ORG/NAME."
            )
        url = f"https://huggingface.co/{model_id}/blob/main/{FOLDER}/{file.name}"
        yield from entry_items(model_id, entries, context.benchmarks, file_url=url)


def parse(location: str, context: ImportContext) -> Parsed:
    path = Path(location).resolve()
    files = _files(path, context.model)
    if not files:
        raise EvidenceError(f"{path}: no eval-results YAML files (expected {FOLDER}/*.yaml).")
    source = source_info(FORMAT, str(path), context, kind="hub", name="hub-eval-results")
    return Parsed.ticking(source, len(files), "files", lambda parsed: _items(files, context, parsed))
