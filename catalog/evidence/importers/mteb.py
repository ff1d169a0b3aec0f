"""The MTEB results repository layout (embeddings-benchmark/results): results/<org>__<model>/<revision>/<Task>.json
plus model_meta.json per revision.

Revisions are merged per (model, task) as MTEB's leaderboard does (mteb BenchmarkResults.join_revisions): results
without scores are dropped; `external` and `no_revision_available` (results copied from a model card: self-reported)
are dropped when a real run exists; among real runs the one from the newest mteb_version wins. (The leaderboard
first prefers the revision its model registry names as main; that registry is not part of the results
repository, so the newest run stands in for it.) Each chosen result becomes one row per (split, subset) with the
task's main score; a model without a combined CQADupstackRetrieval result but with all 12 sub-forum results gets
their mean, as MTEB computes it. model_meta facts (parameters, license, release date ...) become reported facts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from catalog.errors import EvidenceError
from catalog.evidence.importers import ImportContext, source_info
from catalog.evidence.records import FactRecord, Item, Parsed, Skipped, result

FORMAT = "mteb"
TASK_ID = "feature-extraction"  # MTEB measures text embeddings; sentence-similarity reads the same datasets
SELF_REPORTED_REVISIONS = ("external", "no_revision_available")
CQADUPSTACK_FORUMS = ("Android", "English", "Gaming", "Gis", "Mathematica", "Physics", "Programmers", "Stats", "Tex",
                      "Unix", "Webmasters", "Wordpress")  # fmt: skip
# Which score a file's main_score is, most specific first (older mteb versions nest scores per similarity).
_MAIN_SCORE_KEYS = ("ndcg_at_10", "accuracy", "v_measure", "cosine_spearman", "cos_sim-spearman", "max_ap",
                    "cos_sim-ap", "map", "map_at_1000", "f1", "cosine_pearson")  # fmt: skip
_FACTS = {
    "n_parameters": "params",
    "license": "license",
    "release_date": "release_date",
    "languages": "languages",
    "memory_usage_mb": "memory_usage_mb",
    "max_tokens": "max_tokens",
    "embed_dim": "embed_dim",
    "open_weights": "open_weights",
    "framework": "framework",
    "reference": "reference",
}


def _root(path: Path) -> Path:
    return path / "results" if (path / "results").is_dir() else path


def _model_dirs(path: Path) -> list[Path]:
    root = _root(path)
    if any(child.is_dir() and (child / "model_meta.json").is_file() for child in root.iterdir() if child.is_dir()):
        return [root]  # a single model's folder
    return sorted(child for child in root.iterdir() if child.is_dir() and "__" in child.name)


def detect(path: Path) -> bool:
    if not path.is_dir():
        return False
    try:
        for model_dir in _model_dirs(path)[:3]:
            for revision in model_dir.iterdir():
                if revision.is_dir() and (revision / "model_meta.json").is_file():
                    return True
                if revision.is_dir() and any(revision.glob("*.json")):
                    return True
    except OSError:
        return False
    return False


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot read ({exc.strerror}); nothing was imported.") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EvidenceError(f"{path}: not valid JSON ({exc}; truncated file?); nothing was imported.") from exc


def _flatten(entry: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in entry.items():
        name = f"{prefix}-{key}" if prefix else key
        if isinstance(value, dict):
            out.update(_flatten(value, name))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def _main_score_name(entry: dict[str, Any]) -> str | None:
    main = entry.get("main_score")
    if not isinstance(main, int | float):
        return None
    flat = _flatten({k: v for k, v in entry.items() if k not in ("main_score", "scores_per_experiment")})
    for key in _MAIN_SCORE_KEYS:
        if key in flat and abs(flat[key] - main) <= 1e-9:
            return key
    return next((k for k, v in flat.items() if abs(v - main) <= 1e-9), None)


def _version(text: Any) -> tuple[int, ...]:
    parts = []
    for piece in str(text or "").split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _has_scores(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("scores"), dict) and any(data["scores"].values())


def _choose(candidates: list[tuple[str, Path, dict[str, Any]]]) -> tuple[str, Path, dict[str, Any]]:
    """MTEB's join_revisions rule for one (model, task), without the registry's main revision."""
    real = [c for c in candidates if c[0] not in SELF_REPORTED_REVISIONS]
    pool = real or candidates
    return max(pool, key=lambda c: (_version(c[2].get("mteb_version")), c[0]))


def _items(path: Path, context: ImportContext, parsed: Parsed) -> Iterator[Item]:
    for model_dir in _model_dirs(path):
        revisions = sorted(r for r in model_dir.iterdir() if r.is_dir())
        meta: dict[str, Any] = {}
        by_task: dict[str, list[tuple[str, Path, dict[str, Any]]]] = {}
        for revision_dir in revisions:
            for file in sorted(revision_dir.glob("*.json")):
                parsed.ticks[0] += 1
                data = _load(file)
                if file.name == "model_meta.json":
                    if isinstance(data, dict) and (not meta or revision_dir.name not in SELF_REPORTED_REVISIONS):
                        meta = data
                    continue
                if not isinstance(data, dict):
                    raise EvidenceError(f"{file}: expected a JSON object; nothing was imported.")
                if not _has_scores(data):
                    yield Skipped("no-scores", str(file))
                    continue
                task = str(data.get("task_name") or data.get("mteb_dataset_name") or file.stem)
                by_task.setdefault(task, []).append((revision_dir.name, file, data))
        model_id = str(meta.get("name") or model_dir.name.replace("__", "/", 1))
        for fact_key, fact in _FACTS.items():
            if meta.get(fact_key) not in (None, "", []):
                yield FactRecord(model_id, fact, meta[fact_key])
        chosen: dict[str, tuple[str, Path, dict[str, Any]]] = {}
        for task, candidates in sorted(by_task.items()):
            chosen[task] = _choose(candidates)
            for revision, file, _data in candidates:
                if (revision, file) != chosen[task][:2]:
                    yield Skipped("superseded-revision", f"{model_id} {task} {revision}")
        yield from _task_records(model_id, chosen, meta)
        forums = [chosen.get(f"CQADupstack{forum}Retrieval") for forum in CQADUPSTACK_FORUMS]
        if "CQADupstackRetrieval" not in chosen and all(forums):
            yield from _cqadupstack_mean(model_id, [f for f in forums if f])


def _fields(revision: str, data: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    self_reported = revision in SELF_REPORTED_REVISIONS
    return {
        "harness": "mteb",
        "harness_version": str(data.get("mteb_version"))[:32] if data.get("mteb_version") else None,
        "self_reported": self_reported,
        "verified": False,
        "details": {
            "revision": revision,
            "dataset_revision": data.get("dataset_revision"),
            "evaluation_time": data.get("evaluation_time"),
        },
    }


def _task_records(
    model_id: str, chosen: dict[str, tuple[str, Path, dict[str, Any]]], meta: dict[str, Any]
) -> Iterator[Item]:
    for task, (revision, _file, data) in chosen.items():
        fields = _fields(revision, data, meta)
        for split, entries in data["scores"].items():
            for entry in _entries(entries):
                if not isinstance(entry, dict):
                    yield Skipped("malformed-score", f"{model_id} {task} {split}")
                    continue
                name = _main_score_name(entry)
                if name is None:
                    yield Skipped("main-score-unnamed", f"{model_id} {task} {split}")
                    continue
                yield result(
                    model_id=model_id,
                    task_id=TASK_ID,
                    dataset=f"mteb/{task}",
                    metric_raw=name,
                    value=entry["main_score"],
                    scale="fraction",
                    dataset_config=str(entry.get("hf_subset") or "default"),
                    split=split,
                    **fields,
                )


def _entries(scores: Any) -> list[Any]:
    """One split's score entries: a list of {hf_subset, main_score ...} (mteb >= 1.12), or the older shapes, a dict
    of subset -> scores or the scores themselves (subset "default")."""
    if isinstance(scores, list):
        return scores
    if not isinstance(scores, dict):
        return [None]  # counted as malformed
    if "main_score" in scores:
        return [{"hf_subset": "default", **scores}]
    return [{"hf_subset": subset, **entry} if isinstance(entry, dict) else None for subset, entry in scores.items()]


def _cqadupstack_mean(model_id: str, forums: list[tuple[str, Path, dict[str, Any]]]) -> Iterator[Item]:
    values = []
    for _revision, _file, data in forums:
        entries = _entries((data.get("scores") or {}).get("test") or [])
        entry = next((e for e in entries if isinstance(e, dict) and e.get("hf_subset", "default") == "default"), None)
        if entry is None or not isinstance(entry.get("main_score"), int | float):
            return
        values.append(float(entry["main_score"]))
    revisions = sorted({r for r, _f, _d in forums})
    yield result(
        model_id=model_id,
        task_id=TASK_ID,
        dataset="mteb/CQADupstackRetrieval",
        metric_raw="ndcg_at_10",
        value=sum(values) / len(values),
        scale="fraction",
        dataset_config="default",
        split="test",
        harness="mteb",
        self_reported=all(r in SELF_REPORTED_REVISIONS for r in revisions),
        verified=False,
        details={"derived": "mean of the 12 CQADupstack*Retrieval main scores", "revisions": revisions},
    )


def parse(location: str, context: ImportContext) -> Parsed:
    path = Path(location).resolve()
    total = sum(1 for _ in _root(path).glob("*/*/*.json")) if path.is_dir() else 0
    if total == 0 and path.is_dir():
        total = sum(1 for _ in _root(path).glob("*/*.json"))
    source = source_info(FORMAT, str(path), context, kind="leaderboard", name="mteb-results")
    return Parsed.ticking(source, total, "files", lambda parsed: _items(path, context, parsed))
