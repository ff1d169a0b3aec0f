"""Every importer on the real upstream files in ../shared/evidence: counts read, imported and skipped by reason,
idempotence, and malformed / truncated files that change nothing.

The counts are what these files hold; each assertion says why the skipped values are skipped.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from catalog.db import open_database
from catalog.db.schema import evidence, evidence_sources, reported_facts
from catalog.errors import EvidenceError
from catalog.evidence.api import import_evidence
from tests.conftest import require_shared


@pytest.fixture
def db(tmp_path: Path) -> Any:
    database = open_database(f"sqlite:///{tmp_path / 'evidence.db'}")
    yield database
    database.dispose()


def _snapshot(db: Any) -> tuple[list[Any], list[Any], list[Any]]:
    with db.connect() as conn:
        rows = sorted(tuple(r[1:]) for r in conn.execute(select(evidence)))  # all but the autoincrement id
        sources = sorted(tuple(r) for r in conn.execute(select(evidence_sources)))
        facts = sorted((r.source_key, r.model_id, r.fact, repr(r.value)) for r in conn.execute(select(reported_facts)))
    return rows, sources, facts  # type: ignore[return-value]


def _count(db: Any, key: str) -> int:
    with db.connect() as conn:
        return len(conn.execute(select(evidence.c.id).where(evidence.c.source_key == key)).all())


def test_mteb_results_layout(db: Any) -> None:
    path = require_shared("evidence/mteb-results")
    report = import_evidence(db, str(path))
    assert report.source.format == "mteb" and report.source.kind == "leaderboard"
    # 6,941 task files for 210 models; 560 of them (no_revision_available copies) hold no scores.
    assert report.skipped == {"no-scores": 560}
    assert (report.rows_read, report.rows_imported) == (27971, 27411)
    assert report.facts == 1833  # model_meta facts: params, license, release date, languages ...
    with db.connect() as conn:
        gte = conn.execute(
            select(evidence.c.split, evidence.c.dataset_config, evidence.c.value, evidence.c.self_reported).where(
                evidence.c.model_id == "Alibaba-NLP/gte-Qwen2-1.5B-instruct",
                evidence.c.dataset == "mteb/Banking77Classification",
            )
        ).all()
        params = conn.execute(
            select(reported_facts.c.value).where(
                reported_facts.c.model_id == "Alibaba-NLP/gte-Qwen2-1.5B-instruct", reported_facts.c.fact == "params"
            )
        ).scalar()
    assert len(gte) == 1 and gte[0].split == "test" and gte[0].dataset_config == "default"
    assert 0 < gte[0].value < 1 and gte[0].self_reported is True  # that task exists only under external/
    assert params == 1780000000
    again = import_evidence(db, str(path))
    assert (again.rows_imported, again.replaced) == (27411, 27411) and _count(db, report.source.key) == 27411


def test_mteb_merges_revisions_as_the_leaderboard(db: Any, tmp_path: Path) -> None:
    """A real run beats `external`; of two real runs the newer mteb version wins; the 12 CQADupstack sub-forums
    give the combined score when no combined file exists."""
    root = tmp_path / "results" / "org__model"

    def write(revision: str, task: str, score: float, version: str | None, subset: str = "default") -> None:
        folder = root / revision
        folder.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = {"task_name": task, "scores": {"test": [{"hf_subset": subset, "main_score": score,
                                                                          "ndcg_at_10": score}]}}  # fmt: skip
        if version:
            data["mteb_version"] = version
        (folder / f"{task}.json").write_text(__import__("json").dumps(data))
        (folder / "model_meta.json").write_text('{"name": "org/model", "n_parameters": 1000}')

    write("external", "NQ", 0.9, None)
    write("aaaa", "NQ", 0.5, "1.2.0")
    write("bbbb", "NQ", 0.6, "1.10.0")
    for forum in ("Android", "English", "Gaming", "Gis", "Mathematica", "Physics", "Programmers", "Stats", "Tex",
                  "Unix", "Webmasters", "Wordpress"):  # fmt: skip
        write("bbbb", f"CQADupstack{forum}Retrieval", 0.3, "1.10.0")
    report = import_evidence(db, str(tmp_path))
    assert report.skipped == {"superseded-revision": 2}
    with db.connect() as conn:
        values = dict(
            conn.execute(
                select(evidence.c.dataset, evidence.c.value).where(evidence.c.source_key == report.source.key)
            ).all()
        )
    assert values["mteb/NQ"] == pytest.approx(0.6)  # mteb 1.10.0 > 1.2.0 > external
    assert values["mteb/CQADupstackRetrieval"] == pytest.approx(0.3)


def test_open_llm_leaderboard_csv(db: Any) -> None:
    path = require_shared("evidence/open-llm-leaderboard-v1/20230904.csv")
    report = import_evidence(db, str(path))
    # 1,291 rows x 4 scores. 81 models repeat; 73 of them with different scores (the table lost the precision or
    # revision that told the rows apart): all their 163 rows are refused (652 values); 8 repeat identically: one
    # row each counts, the 9 extra rows (36 values) are duplicates.
    assert report.skipped == {"conflicting-duplicate-row": 652, "duplicate-row": 36}
    assert (report.rows_read, report.rows_imported) == (5164, 4476)
    with db.connect() as conn:
        row = conn.execute(
            select(evidence).where(
                evidence.c.model_id == "upstage/Llama-2-70b-instruct-v2", evidence.c.dataset == "cais/mmlu"
            )
        ).one()
    assert row.value == pytest.approx(0.706) and row.n_shot == 5 and row.metric == "accuracy"
    assert row.source_date.year == 2023 and row.verified is True and row.self_reported is False
    assert import_evidence(db, str(path)).rows_imported == 4476 and _count(db, report.source.key) == 4476


def test_open_asr_leaderboard_csvs(db: Any) -> None:
    longform = require_shared("evidence/open-asr-leaderboard/en_longform.csv")
    multilingual = require_shared("evidence/open-asr-leaderboard/multilingual.csv")
    first = import_evidence(db, str(longform))
    assert first.skipped == {"no-score": 4}  # four models have no CORAAL score
    assert (first.rows_read, first.rows_imported, first.facts) == (160, 156, 47)
    second = import_evidence(db, str(multilingual))
    assert (second.rows_read, second.rows_imported, second.facts, dict(second.skipped)) == (420, 420, 54, {})
    with db.connect() as conn:
        wer = conn.execute(
            select(evidence.c.value, evidence.c.higher_is_better).where(
                evidence.c.model_id == "elevenlabs/scribe_v1", evidence.c.dataset == "open-asr-leaderboard/tedlium"
            )
        ).one()
        rtfx = conn.execute(select(reported_facts.c.value).where(reported_facts.c.fact == "rtfx")).scalars().first()
    assert wer.value == pytest.approx(0.0231) and wer.higher_is_better is False  # 2.31 % -> 0.0231
    assert rtfx["value"] > 0 and "Open ASR Leaderboard" in rtfx["hardware"]


def test_spacy_meta(db: Any) -> None:
    path = require_shared("evidence/spacy-models/meta")
    report = import_evidence(db, str(path))
    # 83 pipelines with NER x P/R/F; sl_core_news_trf names only a treebank and a transformer as sources, so its
    # NER corpus is unknown and its three scores are refused.
    assert report.skipped == {"unknown-ner-corpus": 3}
    assert (report.rows_read, report.rows_imported, report.facts) == (249, 246, 188)
    with db.connect() as conn:
        row = conn.execute(
            select(evidence).where(evidence.c.model_id == "spacy/en_core_web_sm", evidence.c.metric == "seqeval-f1")
        ).one()
    assert row.dataset == "OntoNotes 5" and row.dataset_config == "en" and row.protocol == "spacy-meta"


def test_tner_model_card_tables(db: Any) -> None:
    path = require_shared("evidence/tner/MODEL_CARD.md")
    report = import_evidence(db, str(path))
    # Micro, macro and entity-span F1 per model and test year are imported (114 each, three distinct metrics);
    # the 644 per-type columns (F1/person ...) score one entity type, not the model, and are skipped as such.
    assert report.skipped == {"per-entity-type-f1": 644}
    assert (report.rows_read, report.rows_imported) == (986, 342)
    with db.connect() as conn:
        rows = conn.execute(
            select(evidence.c.metric, func.count())
            .where(evidence.c.source_key == report.source.key)
            .group_by(evidence.c.metric)
        ).all()
    metrics = {metric: count for metric, count in rows}
    assert metrics == {"seqeval-f1": 114, "macro-entity-f1": 114, "entity-span-f1": 114}
    with db.connect() as conn:
        row = conn.execute(
            select(evidence).where(
                evidence.c.model_id == "tner/roberta-large-conll2003", evidence.c.metric == "seqeval-f1"
            )
        ).one()
    assert row.dataset == "tner/conll2003" and row.value == pytest.approx(0.9248) and row.split == "test"


def test_model_cards(db: Any) -> None:
    path = require_shared("evidence/model-cards-2022")
    report = import_evidence(db, str(path))
    assert report.skipped == {
        "no-dataset": 1063,  # spaCy-generated cards: results with no dataset cannot be compared with anything
        "not-a-number": 83,  # 'NA', '???', null, 'to recompute with STEP 24000' ...
        "ambiguous-scale": 47,  # e.g. WER 0.8: 80 % or 0.8 %? refused, never guessed
        "out-of-range": 25,  # e.g. negative or impossible values
        "unknown-metric": 25,  # loss, eer, min_dcf ...
        "unknown-task": 14,  # Relation-Extraction, speaker-verification ...
        "conflicting-duplicate": 2,  # the same result twice with different values under the same name
        "off-task-metric": 1,
    }
    assert (report.rows_read, report.rows_imported) == (3510, 2250)
    with db.connect() as conn:
        verified = conn.execute(
            select(evidence.c.id).where(evidence.c.verified.is_(True), evidence.c.source_key == report.source.key)
        ).all()
        scales = (
            conn.execute(
                select(evidence.c.value).where(evidence.c.metric == "wer", evidence.c.source_key == report.source.key)
            )
            .scalars()
            .all()
        )
    assert all(0 <= v <= 1.5 for v in scales)  # percent WERs were put on the fraction scale
    assert len(verified) == 0  # no 2022 card carries Hugging Face's verified flag
    assert import_evidence(db, str(path)).rows_imported == 2250 and _count(db, report.source.key) == 2250


def test_generic_csv_and_jsonl(db_url: str, tmp_path: Path) -> None:
    db = open_database(db_url)
    csv_file = tmp_path / "team.csv"
    csv_file.write_text(
        "model_id,task,dataset,split,metric,value,scale,n_shot,date,verified,notes\n"
        "org/a,ner,conll2003,test,f1,91.2,,,2024-05-01,true,our run\n"
        "org/b,ner,conll2003,test,f1,0.88,fraction,,,,\n"
        "org/c,ner,conll2003,test,loss,0.2,,,,,\n"
        "org/d,juggling,conll2003,test,f1,0.5,,,,,\n",
        encoding="utf-8",
    )
    report = import_evidence(db, str(csv_file), kind="measured")
    assert report.source.format == "generic" and report.source.kind == "measured"
    assert (report.rows_read, report.rows_imported, dict(report.skipped)) == (
        4,
        2,
        {"unknown-metric": 1, "unknown-task": 1},
    )
    jsonl = tmp_path / "team.jsonl"
    jsonl.write_text('{"model_id": "org/e", "dataset": "squad", "metric": "exact_match", "value": 80.1, '
                     '"task": "qa", "split": "validation"}\n', encoding="utf-8")  # fmt: skip
    assert import_evidence(db, str(jsonl)).rows_imported == 1
    with db.connect() as conn:
        rows = {r.model_id: r for r in conn.execute(select(evidence).where(evidence.c.source_key != "catalog.yaml"))}
    db.dispose()
    assert rows["org/a"].metric == "seqeval-f1" and rows["org/a"].value == pytest.approx(0.912)
    assert rows["org/a"].verified is True and rows["org/a"].details == {"notes": "our run"}
    assert rows["org/e"].metric == "squad-exact-match" and rows["org/e"].task_id == "question-answering"


def _cut_mid_line(data: bytes) -> bytes:
    """The file cut in the middle of a line near its middle: a truncated download."""
    middle = len(data) // 2
    start = data.rindex(b"\n", 0, middle) + 1
    end = data.index(b"\n", middle)
    return data[: (start + end) // 2]


@pytest.mark.parametrize(
    ("relative", "fmt"),
    [
        ("evidence/open-llm-leaderboard-v1/20230904.csv", "open-llm-leaderboard"),
        ("evidence/open-asr-leaderboard/en_longform.csv", "open-asr-leaderboard"),
        ("evidence/tner/MODEL_CARD.md", "tner"),
        ("evidence/spacy-models/meta/en_core_web_sm-3.8.0.json", "spacy-meta"),
    ],
)
def test_truncated_file_changes_nothing(db: Any, tmp_path: Path, relative: str, fmt: str) -> None:
    original = require_shared(relative)
    key = f"test:{fmt}"
    import_evidence(db, str(original), key=key)
    before = _snapshot(db)
    broken = tmp_path / original.name
    broken.write_bytes(_cut_mid_line(original.read_bytes()))
    with pytest.raises(EvidenceError) as caught:
        import_evidence(db, str(broken), fmt=fmt, key=key)
    assert "\n" not in str(caught.value) and "nothing was imported" in str(caught.value)
    assert _snapshot(db) == before


def test_truncated_mteb_file_changes_nothing(db: Any, tmp_path: Path) -> None:
    source = require_shared("evidence/mteb-results/results/Alibaba-NLP__gte-base-en-v1.5")
    copy = tmp_path / "results" / source.name
    shutil.copytree(source, copy)
    import_evidence(db, str(tmp_path), key="mteb-copy")
    before = _snapshot(db)
    victim = sorted(copy.glob("*/*Classification.json"))[0]
    victim.write_bytes(victim.read_bytes()[:200])
    with pytest.raises(EvidenceError, match="not valid JSON"):
        import_evidence(db, str(tmp_path), key="mteb-copy")
    assert _snapshot(db) == before


def test_malformed_files_via_the_cli(run_cli: Any, tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"model_id": "org/a", "dataset": "imdb", "metric": "accuracy", "value": 0.93}\n')
    assert run_cli("evidence", "import", str(good), "--key", "team").code == 0
    database = tmp_path / "catalog-home" / "catalog.db"
    before = database.read_bytes()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"model_id": "org/a", "dataset": "imdb", "metric": "accuracy", "val')
    result = run_cli("evidence", "import", str(bad), "--format", "generic", "--key", "team")
    assert result.code == 1 and result.err.count("\n") == 1 and "line 1 is not valid JSON" in result.err
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("model_id,dataset,metric,value\norg/a,imdb,accuracy,0.93\norg/b,imdb\n")
    result = run_cli("evidence", "import", str(bad_csv), "--key", "team")
    assert result.code == 1 and "line 3 has 2 fields" in result.err and result.err.count("\n") == 1
    assert database.read_bytes() == before
    listing = run_cli("evidence", "list", "--model", "org/a", "--format", "json").json()
    assert [r["source_key"] for r in listing] == ["team"]  # type: ignore[union-attr]


def test_unknown_format_and_kind_are_refused(run_cli: Any, tmp_path: Path) -> None:
    stray = tmp_path / "notes.txt"
    stray.write_text("hello")
    result = run_cli("evidence", "import", str(stray))
    assert result.code == 1 and "not a known evidence format" in result.err
    result = run_cli("evidence", "import", str(tmp_path / "missing.csv"))
    assert result.code == 1 and "no such file" in result.err


def test_card_split_from_the_metric_name(db: Any, tmp_path: Path) -> None:
    card = tmp_path / "org" / "asr" / "README.md"
    card.parent.mkdir(parents=True)
    card.write_text(
        "---\nmodel-index:\n- name: asr\n  results:\n  - task: {type: automatic-speech-recognition}\n"
        "    dataset: {type: librispeech_asr, name: LibriSpeech, args: clean}\n"
        "    metrics:\n    - {type: wer, name: Test WER, value: 3.2}\n    - {type: wer, name: Eval WER, value: 3.9}\n"
        "---\n# asr\n",
        encoding="utf-8",
    )
    report = import_evidence(db, str(card))
    with db.connect() as conn:
        rows = {r.split: r for r in conn.execute(select(evidence).where(evidence.c.source_key == report.source.key))}
    assert set(rows) == {"test", None}  # "Eval WER" names no split
    assert rows["test"].value == pytest.approx(0.032) and rows["test"].dataset_config == "clean"


def test_mteb_older_result_shapes(db: Any, tmp_path: Path) -> None:
    """Results written by mteb before 1.12: scores keyed by subset (or the scores themselves), mteb_dataset_name."""
    import json

    folder = tmp_path / "org__old" / "external"
    folder.mkdir(parents=True)
    (folder / "STS17.json").write_text(json.dumps({
        "mteb_dataset_name": "STS17", "test": None,
        "scores": {"test": {"en-en": {"cos_sim": {"spearman": 0.81, "pearson": 0.8}, "main_score": 0.81},
                            "ko-ko": {"cos_sim": {"spearman": 0.7}, "main_score": 0.7}}},
    }))  # fmt: skip
    (folder / "Banking77Classification.json").write_text(json.dumps({
        "mteb_dataset_name": "Banking77Classification",
        "scores": {"test": {"accuracy": 0.75, "f1": 0.74, "main_score": 0.75}},
    }))  # fmt: skip
    report = import_evidence(db, str(tmp_path), fmt="mteb")
    with db.connect() as conn:
        rows = {
            (r.dataset, r.dataset_config): (r.metric, r.value)
            for r in conn.execute(select(evidence).where(evidence.c.source_key == report.source.key))
        }
    assert rows == {
        ("mteb/STS17", "en-en"): ("spearman", 0.81),
        ("mteb/STS17", "ko-ko"): ("spearman", 0.7),
        ("mteb/Banking77Classification", "default"): ("accuracy", 0.75),
    }


@pytest.mark.parametrize(
    ("relative", "fmt"),
    [
        ("evidence/spacy-models", "spacy-meta"),  # the repository's root, which holds meta/
        ("evidence/spacy-models/meta", "spacy-meta"),
        ("evidence/mteb-results", "mteb"),  # the results repository's root, which holds results/
        ("evidence/mteb-results/results", "mteb"),
        ("evidence/model-cards-2022", "model-card"),
    ],
)
def test_detect_repository_roots(relative: str, fmt: str) -> None:
    from catalog.evidence.importers import detect

    assert detect(require_shared(relative)) == fmt


def test_spacy_models_root_imports_like_its_meta_folder(db: Any) -> None:
    report = import_evidence(db, str(require_shared("evidence/spacy-models")))
    assert (report.rows_read, report.rows_imported, report.facts) == (249, 246, 188)


def test_model_cards_tree_under_models_folder(db: Any, tmp_path: Path) -> None:
    from catalog.evidence.importers import detect

    card = tmp_path / "cards-repo" / "models" / "acme" / "ner-base" / "README.md"
    card.parent.mkdir(parents=True)
    card.write_text(
        "---\nmodel-index:\n- name: ner-base\n  results:\n  - task: {type: token-classification}\n"
        "    dataset: {type: conll2003, name: CoNLL-2003, split: test}\n"
        "    metrics:\n    - {type: f1, value: 0.911}\n---\n# ner-base\n",
        encoding="utf-8",
    )
    assert detect(tmp_path / "cards-repo") == "model-card"
    report = import_evidence(db, str(tmp_path / "cards-repo"))
    assert report.rows_imported == 1
    with db.connect() as conn:
        row = conn.execute(select(evidence).where(evidence.c.source_key == report.source.key)).one()
    assert (row.model_id, row.metric, row.value) == ("acme/ner-base", "seqeval-f1", pytest.approx(0.911))
