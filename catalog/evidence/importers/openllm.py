"""Open LLM Leaderboard tables: the v1 CSV report (UTF-8 BOM, percent scores, repeated models) and, on a connected
machine, the leaderboard's published contents dataset on the Hub (v1 or v2 columns), read through huggingface_hub.

Each score column maps to its benchmark's dataset, shots and lm-evaluation-harness metric (v1: ARC 25-shot
acc_norm, HellaSwag 10-shot acc_norm, MMLU 5-shot acc, TruthfulQA 0-shot mc2, Winogrande 5-shot acc, GSM8K 5-shot;
v2 "Raw" columns: IFEval, BBH, MATH level 5, GPQA, MuSR, MMLU-PRO). v2's normalised columns (baseline subtracted,
rescaled) are not a metric of the registry and are not imported. Where rows name their precision (the contents
datasets), a model's quantised runs give way to its unquantised one. A model that still appears in several rows with
different scores (the table dropped the precision / revision that told them apart) is refused as
conflicting, never picked; identical repeats count once. The report's `Parameters` column is unreliable upstream
and is not imported.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from catalog.errors import EvidenceError
from catalog.evidence.importers import ImportContext, parse_date, read_csv, read_text, source_info
from catalog.evidence.records import FactRecord, Item, Parsed, Skipped, result

FORMAT = "open-llm-leaderboard"
TASK_ID = "text-generation"
HARNESS = "lm-evaluation-harness"


@dataclass(frozen=True)
class Column:
    pattern: str  # regex on the normalised header
    dataset: str
    config: str | None
    metric: str
    n_shot: int
    scale: str  # percent | fraction


COLUMNS = (
    Column(r"^arc(\(25-shot\))?$", "ai2_arc", "ARC-Challenge", "acc_norm", 25, "percent"),
    Column(r"^hellaswag(\(10-shot\))?$", "hellaswag", None, "acc_norm", 10, "percent"),
    Column(r"^mmlu(\(5-shot\))?$", "cais/mmlu", None, "acc", 5, "percent"),
    Column(r"^truthfulqa(\(0-shot\))?$", "truthful_qa", "multiple_choice", "mc2", 0, "percent"),
    Column(r"^winogrande(\(5-shot\))?$", "winogrande", "winogrande_xl", "acc", 5, "percent"),
    Column(r"^gsm8k(\(5-shot\))?$", "gsm8k", "main", "exact_match", 5, "percent"),
    Column(r"^ifeval raw$", "google/IFEval", None, "ifeval", 0, "fraction"),
    Column(r"^bbh raw$", "SaylorTwift/bbh", None, "acc_norm", 3, "fraction"),
    Column(r"^math lvl 5 raw$", "lighteval/MATH-Hard", None, "exact_match", 4, "fraction"),
    Column(r"^gpqa raw$", "Idavidrein/gpqa", None, "acc_norm", 0, "fraction"),
    Column(r"^musr raw$", "TAUR-Lab/MuSR", None, "acc_norm", 0, "fraction"),
    Column(r"^mmlu-pro raw$", "TIGER-Lab/MMLU-Pro", None, "acc", 5, "fraction"),
)
MODEL_COLUMNS = ("fullname", "model_name_for_query", "model", "eval_name")


def _header(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip().lower())


def _score_columns(headers: Iterable[str]) -> dict[str, Column]:
    found: dict[str, Column] = {}
    for header in headers:
        for column in COLUMNS:
            if re.match(column.pattern, _header(header)):
                found[header] = column
    return found


def detect(path: Path) -> bool:
    if not path.is_file() or path.suffix.lower() != ".csv":
        return False
    with path.open("rb") as handle:
        first = handle.readline(8192).decode("utf-8-sig", errors="replace")
    headers = next(csv.reader([first]), [])
    return len(_score_columns(headers)) >= 2 and any(_header(h) in MODEL_COLUMNS for h in headers)


def _model_of(row: dict[str, Any]) -> str:
    lowered = {_header(k): v for k, v in row.items() if isinstance(k, str)}
    for name in MODEL_COLUMNS:
        value = lowered.get(name)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            link = re.search(r'href="https://huggingface\.co/([^"]+)"', text)  # contents datasets hold HTML links
            return link.group(1) if link else re.sub(r"<[^>]+>", "", text).strip()
    return ""


_NATIVE_PRECISIONS = {"float16", "bfloat16", "float32"}


def _unquantised(group: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Where the table says each row's precision (the contents datasets do), the model's own weights are its
    quality: rows evaluated quantised (8bit, 4bit, GPTQ ...) give way to unquantised ones of the same model."""
    native = [r for r in group if str(r.get("Precision") or r.get("precision") or "").lower() in _NATIVE_PRECISIONS]
    return native or group


def _items(rows: list[dict[str, Any]], published: datetime | None) -> Iterator[Item]:
    if not rows:
        return
    columns = _score_columns(rows[0].keys())
    by_model: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_model.setdefault(_model_of(row), []).append(row)
    for model_id, group in by_model.items():
        kept = _unquantised(group)
        for _ in range(len(columns) * (len(group) - len(kept))):
            yield Skipped("quantised-duplicate-row", model_id)
        scores = {tuple(str(r.get(h, "")).strip() for h in columns) for r in kept}
        if len(scores) > 1:
            for _ in range(len(columns) * len(kept)):
                yield Skipped("conflicting-duplicate-row", model_id)
            continue
        for _ in range(len(columns) * (len(kept) - 1)):
            yield Skipped("duplicate-row", model_id)
        row = kept[0]
        date = parse_date(row.get("Submission Date")) or published
        for header, column in columns.items():
            value = row.get(header)
            if value in (None, ""):
                yield Skipped("no-score", f"{model_id} {header}")
                continue
            yield result(
                model_id=model_id,
                task_id=TASK_ID,
                dataset=column.dataset,
                metric_raw=column.metric,
                value=value,
                scale=column.scale,  # type: ignore[arg-type]
                dataset_config=column.config,
                n_shot=column.n_shot,
                harness=HARNESS,
                self_reported=False,
                verified=True,  # run by the leaderboard on its own cluster, not by the model's authors
                source_url=str(row.get("URL") or "") or None,
                source_date=date,
                details={"column": header, **({"precision": row["Precision"]} if row.get("Precision") else {})},
            )
        params = row.get("#Params (B)")
        if isinstance(params, int | float) and params > 0:
            yield FactRecord(model_id, "params", int(params * 1e9))


def _csv_rows(path: Path) -> list[dict[str, Any]]:
    header, rows = read_csv(path)
    if not _score_columns(header):
        raise EvidenceError(f"{path}: no Open LLM Leaderboard score columns (ARC, HellaSwag, MMLU ...) in the header.")
    return rows


def _date_from_name(path: Path) -> datetime | None:
    match = re.search(r"(20\d{2})(\d{2})(\d{2})", path.stem)
    if not match:
        return None
    try:
        return datetime(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse(location: str, context: ImportContext) -> Parsed:
    path = Path(location).resolve()
    rows = _csv_rows(path)
    published = _date_from_name(path)
    source = source_info(FORMAT, str(path), context, kind="leaderboard", name="open-llm-leaderboard",
                         published_at=published)  # fmt: skip
    return Parsed(source=source, items=_items(rows, published), total=len(rows))


# --- the live path: the leaderboard's published contents dataset on the Hub ----------------------------------------

_HUB_LOCATION = re.compile(
    r"^(?:hf://datasets/|https://huggingface\.co/datasets/)([^/]+/[^/]+)(?:/(?:resolve/[^/]+/)?(.+))?$"
)
_DATA_SUFFIXES = (".csv", ".json", ".jsonl", ".parquet")


def _rows_of_file(path: Path) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(path)
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise EvidenceError(f"{path.name} is Parquet: install pyarrow (pip install pyarrow) to read it.") from exc
        return list(pq.read_table(path).to_pylist())
    text = read_text(path)
    try:
        if suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EvidenceError(f"{path.name}: not valid JSON ({exc.msg}; truncated download?).") from exc
    return list(data if isinstance(data, list) else data.get("rows") or data.get("data") or [])


def parse_hub(location: str, context: ImportContext) -> Parsed:
    """hf://datasets/REPO[/FILE]: the data files of a leaderboard contents dataset, through huggingface_hub (it honours
    HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE)."""
    match = _HUB_LOCATION.match(location.rstrip("/"))
    if not match:
        raise EvidenceError(f"{location}: expected hf://datasets/ORG/NAME[/FILE].")
    repo_id, filename = match[1], match[2]
    import httpx2  # huggingface_hub's HTTP client: connection errors arrive as its exceptions
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    api = HfApi()
    try:
        info = api.dataset_info(repo_id)
        files = [filename] if filename else [
            s.rfilename for s in info.siblings or [] if s.rfilename.lower().endswith(_DATA_SUFFIXES)
        ]  # fmt: skip
        if not files:
            raise EvidenceError(f"{location}: the dataset has no CSV, JSON or Parquet data files.")
        rows: list[dict[str, Any]] = []
        for name in sorted(files):
            local = hf_hub_download(repo_id, name, repo_type="dataset", revision=info.sha)
            rows.extend(_rows_of_file(Path(local)))
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, httpx2.HTTPError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EvidenceError(
            f"Cannot read {location} from the Hub: {first}. Check the repository name, HF_ENDPOINT and your network."
        ) from exc
    published = info.last_modified.replace(tzinfo=None) if info.last_modified else None
    canonical = f"hf://datasets/{repo_id}" + (f"/{filename}" if filename else "")
    source = source_info(FORMAT, canonical, context, kind="leaderboard", name=repo_id, revision=info.sha,
                         published_at=published)  # fmt: skip
    return Parsed(source=source, items=_items(rows, published), total=len(rows))
