"""Evidence naming a model by its pre-2024 Hub id, or in another case, reaches the catalog model."""

from __future__ import annotations

from catalog.evidence.identity import ModelIds, legacy_name

CATALOG = ["openai-community/gpt2", "google-bert/bert-base-uncased", "google-t5/t5-small", "Qwen/Qwen2-7B",
           "optimum/gpt2", "Habana/gpt2", "FacebookAI/roberta-base", "facebook/opt-125m", "a/Twin", "a/twin"]  # fmt: skip


def test_legacy_ids_map_to_the_one_model_in_the_legacy_organisations() -> None:
    ids = ModelIds(CATALOG)
    assert ids.resolve("gpt2") == "openai-community/gpt2"  # optimum/gpt2 and Habana/gpt2 are not legacy homes
    assert ids.resolve("bert-base-uncased") == "google-bert/bert-base-uncased"
    assert ids.resolve("t5-small") == "google-t5/t5-small"
    assert ids.resolve("opt-125m") is None  # facebook's models always had their prefix: no guess
    assert ids.resolve("unknown-model") is None
    assert legacy_name("FacebookAI/roberta-base") == "roberta-base" and legacy_name("facebook/opt-125m") is None


def test_case_only_differences_match_when_unambiguous() -> None:
    ids = ModelIds(CATALOG)
    assert ids.resolve("qwen/qwen2-7b") == "Qwen/Qwen2-7B"
    assert ids.resolve("A/TWIN") is None  # two catalog ids fold to it
    assert ids.resolve("a/Twin") == "a/Twin"  # a catalog id as written is never remapped
    assert ids.resolve("GPT2") == "openai-community/gpt2"


def test_ambiguous_legacy_name_is_not_mapped() -> None:
    ids = ModelIds(["google-bert/shared-name", "distilbert/shared-name"])
    assert ids.resolve("shared-name") is None
    assert {"shared-name", "google-bert/shared-name"} <= ids.spellings(["google-bert/shared-name"])


def test_ranking_and_show_read_legacy_rows(db_url: str) -> None:
    from sqlalchemy import insert, select

    from catalog.db import open_database
    from catalog.db.schema import evidence, evidence_sources, model_tasks, models
    from catalog.evidence.query import evidence_for_model
    from catalog.recommend import explain, recommend

    db = open_database(db_url)
    wanted = ("openai-community/gpt2", "openai-community/gpt2-medium")
    with db.write() as conn:
        present = set(conn.execute(select(models.c.id).where(models.c.id.in_(wanted))).scalars())
        for model_id in set(wanted) - present:
            conn.execute(insert(models).values(id=model_id, pipeline_tag="text-generation", downloads=10))
            conn.execute(insert(model_tasks).values(model_id=model_id, task_id="text-generation"))
        conn.execute(insert(evidence_sources).values(key="test", kind="leaderboard", name="test", format="generic",
                                                    location="test"))  # fmt: skip
        for model_id, value in (("gpt2", 0.30), ("gpt2-medium", 0.40)):
            conn.execute(insert(evidence).values(
                source_key="test", model_id=model_id, task_id="text-generation", dataset="cais/mmlu", metric="accuracy",
                metric_raw="acc", value=value, higher_is_better=True, n_shot=5, source_kind="leaderboard",
                source_name="test", self_reported=False, verified=False))  # fmt: skip
    with db.connect() as conn:
        assert "gpt2" in [r.model_id for r in evidence_for_model(conn, "openai-community/gpt2")]
    result = recommend("text-generation", profile="accurate", limit=0, include_gated=True, db=db)
    basis = {item.model.id: item.evidence.basis for item in result if item.evidence is not None}
    assert basis["openai-community/gpt2"] == basis["openai-community/gpt2-medium"] == "evidence"
    used, _ = explain("openai-community/gpt2-medium", "text-generation", db=db).evidence_rows()
    assert "gpt2-medium" in [row["published_as"] for row in used]
    db.dispose()


def test_import_stores_the_catalog_id_and_keeps_the_published_one(db_url: str, tmp_path) -> None:
    from catalog.db import open_database
    from catalog.evidence.api import import_evidence, list_evidence

    results = tmp_path / "results.csv"
    results.write_text(
        "model_id,dataset,metric,value,task,split\n"
        "GPT2,cais/mmlu,accuracy,0.26,text-generation,test\n"
        "bert-base-uncased,conll2003,seqeval-f1,0.91,token-classification,test\n"
        "someone/unknown-model,conll2003,seqeval-f1,0.5,token-classification,test\n"
    )
    db = open_database(db_url)
    report = import_evidence(db, str(results))
    assert report.rows_imported == 3
    rows = {r.model_id: r for r in list_evidence(db)}
    assert rows["openai-community/gpt2"].details["published_as"] == "GPT2"
    assert rows["google-bert/bert-base-uncased"].details["published_as"] == "bert-base-uncased"
    assert "published_as" not in rows["someone/unknown-model"].details  # not in the catalog: kept as written
    found = list_evidence(db, model="gpt2")  # the legacy id names the catalog's model (its curated rows too)
    assert {r.model_id for r in found} == {"openai-community/gpt2"}
    assert "GPT2" in [r.details.get("published_as") for r in found]
    db.dispose()
