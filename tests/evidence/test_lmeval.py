"""lm-evaluation-harness results JSON (the layout of lm-eval 0.4 `--output_path` files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from catalog.db import open_database
from catalog.db.schema import evidence
from catalog.errors import EvidenceError
from catalog.evidence.api import import_evidence
from catalog.evidence.benchmarks import matches
from catalog.evidence.query import task_benchmarks

RESULTS = {
    "results": {
        "arc_challenge": {"alias": "arc_challenge", "acc,none": 0.51, "acc_stderr,none": 0.014,
                          "acc_norm,none": 0.5435, "acc_norm_stderr,none": 0.0145},
        "truthfulqa_mc2": {"alias": "truthfulqa_mc2", "acc,none": 0.389, "acc_stderr,none": 0.0137},
        "gsm8k": {"alias": "gsm8k", "exact_match,strict-match": 0.138, "exact_match,flexible-extract": 0.142},
        "wikitext": {"alias": "wikitext", "word_perplexity,none": 9.53, "byte_perplexity,none": 1.52,
                     "bits_per_byte,none": 0.61},
        "my_custom_task": {"alias": "x", "bleu,none": 0.21},
    },
    "n-shot": {"arc_challenge": 25, "truthfulqa_mc2": 0, "gsm8k": 5, "wikitext": 0, "my_custom_task": 0},
    "config": {"model": "hf", "model_args": "pretrained=org/llm-7b,dtype=bfloat16", "batch_size": "auto"},
    "git_hash": "4600d6b",
    "date": 1719792000.0,
}  # fmt: skip


def test_lm_eval_results(tmp_path: Path) -> None:
    path = tmp_path / "results_2024-07-01T00-00-00.json"
    path.write_text(json.dumps(RESULTS), encoding="utf-8")
    db = open_database(f"sqlite:///{tmp_path / 'lm.db'}")
    report = import_evidence(db, str(path))
    with db.connect() as conn:
        rows = list(conn.execute(select(evidence).where(evidence.c.source_key == report.source.key)))
        arc_benchmark = next(b for b in task_benchmarks(conn, "text-generation") if b["id"] == "openllm-v1-arc")
    db.dispose()
    assert report.source.format == "lm-eval" and report.source.kind == "measured"
    # byte_perplexity and bits_per_byte are tokenizer-independent but not metrics of the registry; the custom
    # task's BLEU is off-task for text generation.
    assert dict(report.skipped) == {"tokenizer-dependent-perplexity": 2, "off-task-metric": 1}
    by_key = {(r.dataset, r.metric, r.protocol): r for r in rows}
    arc = by_key[("ai2_arc", "accuracy-norm", None)]
    assert arc.n_shot == 25 and arc.value == pytest.approx(0.5435) and arc.model_id == "org/llm-7b"
    assert matches(arc_benchmark, arc) and not matches(arc_benchmark, by_key[("ai2_arc", "accuracy", None)])
    assert by_key[("truthful_qa", "truthfulqa-mc2", None)].value == pytest.approx(0.389)
    assert by_key[("gsm8k", "exact-match", "strict-match")].n_shot == 5
    assert by_key[("wikitext", "perplexity", "word-level")].value == pytest.approx(9.53)
    assert arc.source_date is not None and arc.source_date.year == 2024


def test_lm_eval_without_a_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"results": {"hellaswag": {"acc,none": 0.5}}, "versions": {}}), encoding="utf-8")
    db: Any = open_database(f"sqlite:///{tmp_path / 'lm.db'}")
    with pytest.raises(EvidenceError, match="names no model"):
        import_evidence(db, str(path))
    db.dispose()
