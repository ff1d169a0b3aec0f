"""catalog.yaml's curated `reported:` figures are seeded as evidence (source key catalog.yaml)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from catalog.db import open_database
from catalog.db.schema import evidence, evidence_sources
from catalog.evidence.curated import source_kind, split_protocol


def test_dataset_names_give_up_their_protocol() -> None:
    assert split_protocol("MMLU (5-shot)") == ("MMLU", 5, None)
    assert split_protocol("MMLU (5-shot, top-1)") == ("MMLU", 5, "top-1")
    assert split_protocol("WikiText-2 (zero-shot)") == ("WikiText-2", 0, None)
    assert split_protocol("MMLU (CoT@32)") == ("MMLU", None, "CoT@32")
    assert split_protocol("GLUE SST-2 (after fine-tuning)") == ("GLUE SST-2", None, "fine-tuned")
    assert split_protocol("SST-2 (GLUE)") == ("SST-2 (GLUE)", None, None)
    assert source_kind("model card model-index (Hugging Face verified evaluation)") == "model-card"
    assert source_kind("paper arXiv:2310.06825 (recollection)") == "paper"


def test_seeded_with_the_taxonomy(db_url: str) -> None:
    db = open_database(db_url)
    with db.connect() as conn:
        source = conn.execute(select(evidence_sources).where(evidence_sources.c.key == "catalog.yaml")).one()
        rows = {(r.model_id, r.dataset, r.metric): r for r in conn.execute(select(evidence))}
    db.dispose()
    assert source.rows_read == 41 and source.rows_imported == 41 and source.skipped == {}
    assert source.kind == "curated"  # its rows come from cards, leaderboards and papers: each keeps its own kind
    llama = rows[("meta-llama/Llama-2-7b-hf", "MMLU", "accuracy")]
    assert llama.n_shot == 5 and llama.value == 0.453 and llama.verified is False
    assert rows[("google/gemini-ultra", "MMLU", "accuracy")].protocol == "CoT@32"  # never compared with 5-shot
    ner = rows[("dslim/bert-base-NER", "CoNLL-2003", "seqeval-f1")]
    assert ner.verified is True and ner.source_kind == "model-card" and ner.value == 0.9259
    assert rows[("openai/whisper-base", "LibriSpeech (clean)", "wer")].value == 0.0501


def test_reseeding_replaces_the_rows(mini_taxonomy: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = open_database(url)
    with db.connect() as conn:
        before = conn.execute(select(evidence.c.model_id).where(evidence.c.source_key == "catalog.yaml")).all()
    db.dispose()
    text = mini_taxonomy.read_text(encoding="utf-8")
    mini_taxonomy.write_text(text + "\n# touched\n", encoding="utf-8")  # a new digest: seeded again
    db = open_database(url)
    with db.connect() as conn:
        after = conn.execute(select(evidence.c.model_id).where(evidence.c.source_key == "catalog.yaml")).all()
    db.dispose()
    assert sorted(before) == sorted(after)
