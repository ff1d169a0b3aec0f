"""lm-evaluation-harness results JSON (`results_<date>.json` / `--output_path`): per task, metrics keyed
`<metric>,<filter>` (fractions), shots in `n-shot`, the model in `model_name` or `config.model_args` (pretrained=).

Known tasks map to their dataset ids (ARC-Challenge, HellaSwag, MMLU, TruthfulQA mc2, Winogrande, GSM8K and the Open
LLM Leaderboard v2 set) so a local run compares with the leaderboard on the same benchmark; other tasks keep the
harness's task name as `lm-eval/<task>`. Standard errors are details, not rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from catalog.errors import EvidenceError
from catalog.evidence.importers import ImportContext, read_text, source_info
from catalog.evidence.records import Item, Parsed, Skipped, result

FORMAT = "lm-eval"
TASK_ID = "text-generation"
# harness task -> (dataset, config, metric spelling override for its `acc`)
KNOWN_TASKS: dict[str, tuple[str, str | None, str | None]] = {
    "arc_challenge": ("ai2_arc", "ARC-Challenge", None),
    "hellaswag": ("hellaswag", None, None),
    "mmlu": ("cais/mmlu", None, None),
    "truthfulqa_mc2": ("truthful_qa", "multiple_choice", "mc2"),
    "winogrande": ("winogrande", "winogrande_xl", None),
    "gsm8k": ("gsm8k", "main", None),
    "leaderboard_ifeval": ("google/IFEval", None, None),
    "leaderboard_bbh": ("SaylorTwift/bbh", None, None),
    "leaderboard_math_hard": ("lighteval/MATH-Hard", None, None),
    "leaderboard_gpqa": ("Idavidrein/gpqa", None, None),
    "leaderboard_musr": ("TAUR-Lab/MuSR", None, None),
    "leaderboard_mmlu_pro": ("TIGER-Lab/MMLU-Pro", None, None),
    "wikitext": ("wikitext", "wikitext-2-raw-v1", None),
}


def _load(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise EvidenceError(f"{path}: not valid JSON ({exc.msg}; truncated file?); nothing was imported.") from exc


def detect(path: Path) -> bool:
    if not path.is_file() or path.suffix.lower() != ".json":
        return False
    try:
        head = path.open("rb").read(200_000).decode("utf-8", errors="replace")
    except OSError:
        return False
    return '"results"' in head and ('"n-shot"' in head or '"versions"' in head or '"config"' in head)


def _model(data: dict[str, Any]) -> str:
    if isinstance(data.get("model_name"), str) and data["model_name"]:
        return str(data["model_name"])
    args = str((data.get("config") or {}).get("model_args") or "")
    match = re.search(r"pretrained=([^,]+)", args)
    return match.group(1) if match else ""


def _items(path: Path, data: dict[str, Any]) -> Iterator[Item]:
    model_id = _model(data)
    shots = data.get("n-shot") or {}
    version = str(data.get("lm_eval_version") or data.get("git_hash") or "")[:32] or None
    date = None
    if isinstance(data.get("date"), int | float):
        date = datetime.fromtimestamp(data["date"], UTC).replace(tzinfo=None)
    for task, metrics in (data.get("results") or {}).items():
        if not isinstance(metrics, dict):
            yield Skipped("malformed-result", task)
            continue
        dataset, config, acc_name = KNOWN_TASKS.get(task, (f"lm-eval/{task}", None, None))
        for key, value in metrics.items():
            name, _, filter_name = key.partition(",")
            if name.endswith("_stderr") or name == "alias" or not isinstance(value, int | float):
                continue
            spelling = acc_name if (acc_name and name == "acc") else name
            if task == "wikitext" and name != "word_perplexity":
                yield Skipped("tokenizer-dependent-perplexity", f"{task} {name}")
                continue
            n_shot = shots.get(task)
            yield result(
                model_id=model_id,
                task_id=TASK_ID,
                dataset=dataset,
                metric_raw="perplexity" if name == "word_perplexity" else spelling,
                value=value,
                scale="fraction",
                dataset_config=config,
                n_shot=int(n_shot) if isinstance(n_shot, int) else None,
                protocol="word-level"
                if name == "word_perplexity"
                else (None if filter_name in ("", "none") else filter_name),
                harness="lm-evaluation-harness",
                harness_version=version,
                source_date=date,
                self_reported=True,
                details={"task": task, "key": key, "stderr": metrics.get(f"{name}_stderr,{filter_name}")},
            )


def parse(location: str, context: ImportContext) -> Parsed:
    path = Path(location).resolve()
    data = _load(path)
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise EvidenceError(f"{path}: no `results` object; not an lm-evaluation-harness results file.")
    if not _model(data):
        raise EvidenceError(
            f"{path}: names no model (model_name or config.model_args pretrained=); use the generic format."
        )
    source = source_info(FORMAT, str(path), context, kind="measured", name=path.stem)
    return Parsed(source=source, items=_items(path, data))
