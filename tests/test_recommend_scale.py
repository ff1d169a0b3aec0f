"""The recommender's fast path at scale gives the ranking and figures a straightforward computation gives.

`recommend` computes numbers for every candidate in one pass (latency by a look-up per 1% step of parameter count
and typical model type, quality records only for candidates with evidence) and Figures only for the rows shown.
Here a few thousand models with evidence, base models, API-only and gated rows are ranked both ways: per candidate
through the cost model's own functions (latency_estimate, memory_estimate), assess() over every candidate, and the
score by scoring.py's definitions; the order, every score and every figure shown must agree."""

from __future__ import annotations

import math
import random
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, insert, or_, select

from catalog import settings
from catalog.db import open_database
from catalog.db.engine import Database
from catalog.db.schema import evidence, evidence_sources, model_languages, model_tasks, models
from catalog.db.schema import tasks as tasks_table
from catalog.recommend import Constraints, recommend
from catalog.recommend import engine as recommend_engine
from catalog.recommend import quality as q
from catalog.recommend.scoring import COMPONENTS, PROFILES

NOW = datetime(2026, 11, 15, 12, 0)
TASK = "token-classification"
FAMILIES = [("bert", "encoder-only"), ("gpt2", "decoder-only"), ("t5", "encoder-decoder"), ("llama", "decoder-only"),
            ("roberta", "encoder-only"), (None, None)]  # fmt: skip


def _populate(db: Database, n: int, seed: int = 5) -> None:
    """n models, most of them NER ones (a few text-generation), with sizes over four decades (some unknown or tiny),
    dates, downloads and likes; a few API-only, gated or curated; fine-tunes of evaluated models; CoNLL-03 and
    OntoNotes5 results for about one in twenty, some of them on aliases or another task."""
    rng = random.Random(seed)
    rows, tasks, languages = [], [], []
    for i in range(n):
        model_id = f"org{i % 97}/model-{i:05d}"
        task = TASK if rng.random() < 0.85 else "text-generation"
        family, architecture = rng.choice(FAMILIES)
        params = int(10 ** rng.uniform(6.5, 10.5)) if rng.random() < 0.85 else rng.choice([None, 500, 12_000])
        stamp = datetime(rng.randint(2021, 2026), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23))
        rows.append(dict(
            id=model_id, pipeline_tag=task if rng.random() < 0.7 else rng.choice([None, "fill-mask"]),
            family_id=family, architecture_id=architecture, params=params, license=rng.choice(["mit", "apache-2.0",
            None]), downloads=rng.choice([None, int(10 ** rng.uniform(0, 6.5))]), likes=rng.choice([None, 0, 3, 40]),
            hub_last_modified=stamp if rng.random() < 0.9 else None, hub_created_at=stamp, synced_at=NOW,
            gated=rng.random() < 0.03, api_only=rng.random() < 0.02, curated=rng.random() < 0.01,
            base_model=None, description="", source="synthetic", provenance={}, tags=[],
        ))  # fmt: skip
        tasks.append(dict(model_id=model_id, task_id=task, position=0))
        languages += [dict(model_id=model_id, language=code, position=p)
                      for p, code in enumerate(rng.sample(["en", "zh", "de"], rng.choice((0, 1, 2))))]  # fmt: skip
    evaluated = [r["id"] for r in rows if rng.random() < 0.05]
    for r in rows:
        if r["id"] not in evaluated and rng.random() < 0.05:
            r["base_model"] = rng.choice(evaluated)
    with db.write() as conn:
        conn.execute(insert(models), rows)
        conn.execute(insert(model_tasks), tasks)
        if languages:
            conn.execute(insert(model_languages), languages)
        conn.execute(insert(evidence_sources).values(key="cards", kind="model-card", name="cards", format="test",
                                                     location="test", skipped={}))  # fmt: skip
        results = []
        for model_id in evaluated:
            for dataset in rng.sample(["conll2003", "tner/ontonotes5", "eriktks/conll2003"], rng.choice((1, 2))):
                named = model_id.upper() if rng.random() < 0.1 else model_id  # a row naming it in another case
                results.append(dict(
                    source_key="cards", model_id=named, task_id=rng.choice([TASK, TASK, None]), dataset=dataset,
                    split="test", metric="seqeval-f1", metric_raw="f1", value=round(rng.uniform(0.5, 0.95), 3),
                    higher_is_better=True, source_kind=rng.choice(["model-card", "leaderboard"]), source_name="cards",
                    source_date=datetime(2024, rng.randint(1, 12), 1), verified=rng.random() < 0.5, details={},
                ))  # fmt: skip
        conn.execute(insert(evidence), results)


def _straightforward(db: Database, profile: str) -> tuple[list[tuple[str, float]], dict[str, dict[str, Any]]]:
    """The ranking by definition: every candidate's figures through the cost model's per-model functions and every
    candidate's quality from assess(); (model, score) best first, and the figures per model."""
    from catalog.costmodel.catalog_figures import latency_estimate, memory_estimate, recommend_estimator
    from catalog.evidence.identity import ModelIds

    m, e = models.c, evidence.c
    weights = PROFILES[profile]
    with db.connect() as conn:
        in_task = m.id.in_(select(model_tasks.c.model_id).where(model_tasks.c.task_id == TASK))
        rows = conn.execute(
            select(m.id, m.pipeline_tag, m.params, m.downloads, m.likes, m.curated, m.api_only, m.base_model,
                   m.family_id, func.coalesce(m.hub_last_modified, m.hub_created_at).label("stamp"))
            .where(in_task, m.api_only.is_(False), m.gated.is_(False))
        ).all()  # fmt: skip
        raw = list(conn.execute(select(tasks_table.c.benchmarks).where(tasks_table.c.id == TASK)).scalar_one() or [])
        benchmarks = q.parse_benchmarks(raw)
        datasets = {d.lower() for bench in raw for d in bench.get("datasets", [])}
        ids = ModelIds(r.id for r in rows)
        found: dict[str, list[q.EvidenceItem]] = {}
        for r in conn.execute(select(evidence).where(or_(e.task_id == TASK, func.lower(e.dataset).in_(datasets)))
                              .order_by(e.model_id, e.source_date.desc(), e.id)):  # fmt: skip
            model = ids.resolve(r.model_id)
            if model is None:
                continue
            item = q.EvidenceItem(f"evidence {r.id}", model, r.task_id, r.dataset, r.dataset_config, r.split, r.metric,
                                  r.value, r.higher_is_better, r.n_shot, r.protocol, r.source_kind, r.source_name,
                                  r.source_date, r.verified,
                                  published_as=r.model_id if model != r.model_id else None)  # fmt: skip
            found.setdefault(model, []).append(item)
        facts = {r.id: q.CandidateFacts(base_model=r.base_model, family=r.family_id) for r in rows}
        quality = q.assess(TASK, benchmarks, found, facts)
        estimator = recommend_estimator(conn, Constraints(task="ner"), TASK)
    figures: dict[str, dict[str, Any]] = {}
    for r in rows:
        usable = r.params and not r.api_only
        figures[r.id] = {
            "latency": latency_estimate(estimator, r.params, r.family_id) if usable else None,
            "memory": memory_estimate(estimator, r.params, r.family_id) if usable else None,
            "quality": quality[r.id],
        }
    best_downloads = max((math.log1p(r.downloads or 0) for r in rows), default=0.0)
    best_likes = max((math.log1p(r.likes or 0) for r in rows), default=0.0)
    sizes = [math.log(r.params) for r in rows if r.params]
    latencies = [math.log(f["latency"][0]) for f in figures.values() if f["latency"] and f["latency"][0] > 0]
    scored = []
    for r in rows:
        popularity = math.log1p(r.downloads or 0) / best_downloads if best_downloads > 0 else 0.0
        if best_likes > 0:
            popularity = 0.8 * popularity + 0.2 * math.log1p(r.likes or 0) / best_likes
        values = {
            "popularity": popularity,
            "recency": 0.5 ** (max((NOW - r.stamp).days, 0) / 365.0) if r.stamp else 0.0,
            "accuracy": figures[r.id]["quality"].value,
            "size": ((max(sizes) - math.log(r.params)) / (max(sizes) - min(sizes)) if max(sizes) > min(sizes) else 1.0)
            if r.params else 0.0,
            "latency": 0.0,
            "curated": 1.0 if r.curated else 0.0,
            "specialised": 1.0 if r.pipeline_tag == TASK else 0.0,
        }  # fmt: skip
        latency = figures[r.id]["latency"]
        if latency and latency[0] > 0:
            slow, fast = max(latencies), min(latencies)
            values["latency"] = (slow - math.log(latency[0])) / (slow - fast) if slow > fast else 1.0
        score = sum(weights[name] * values[name] for name in COMPONENTS)
        scored.append(((-round(score, 12), -(r.downloads or 0), r.id), score))
    scored.sort()
    return [(key[2], score) for key, score in scored], figures


@pytest.fixture
def scale_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setattr(recommend_engine, "utcnow", lambda: NOW)
    db = open_database(db_url)
    _populate(db, 3000)
    return db


@pytest.mark.parametrize("profile", ["balanced", "accurate", "fast"])
def test_ranking_and_figures_match_the_straightforward_computation(scale_db: Database, profile: str) -> None:
    expected, figures = _straightforward(scale_db, profile)
    result = recommend("ner", limit=0, profile=profile, db=scale_db)
    assert len(expected) > 2000 and result.matched == len(expected)
    assert [item.model.id for item in result] == [model for model, _ in expected]
    evaluated = 0
    for item, (_, score) in zip(result, expected, strict=True):
        assert item.score == pytest.approx(score, rel=1e-12, abs=1e-12)
        f = figures[item.model.id]
        assert (
            (item.latency_ms.value, item.latency_ms.basis) == f["latency"] if f["latency"] else item.latency_ms is None
        )
        assert (
            (item.memory_bytes.value, item.memory_bytes.basis) == f["memory"]
            if f["memory"]
            else item.memory_bytes is None
        )
        quality = f["quality"]
        assert item.evidence is not None and item.evidence.basis == quality.basis
        assert item.evidence.value == pytest.approx(quality.value, rel=1e-12, abs=1e-12)
        assert [(u.benchmark, u.value, u.compared) for u in item.evidence.used] == [
            (u.benchmark, u.value, u.compared) for u in quality.used
        ]
        assert (item.accuracy is None) == (quality.basis == "none" and quality.shown is None)
        evaluated += quality.basis == "evidence"
    assert evaluated > 50  # the evidence reached the ranking (and priors: fine-tunes of evaluated models)
    assert any(item.evidence is not None and item.evidence.basis == "prior" for item in result)


def test_the_top_rows_are_the_head_of_the_whole_order(scale_db: Database) -> None:
    """limit N takes the first N by a heap, not by sorting everything: the same rows, scores and figures."""
    everything = recommend("ner", limit=0, db=scale_db)
    for profile in ("balanced", "small"):
        whole = recommend("ner", limit=0, profile=profile, db=scale_db).to_dict()
        top = recommend("ner", limit=25, profile=profile, db=scale_db).to_dict()
        assert top["items"] == whole["items"][:25]
        assert {k: v for k, v in top.items() if k != "items"} == {k: v for k, v in whole.items() if k != "items"}
    assert everything.excluded and everything.considered > everything.matched  # API-only and gated counted


def test_targets_and_constraints_keep_the_order_of_the_whole(scale_db: Database) -> None:
    """Service targets and SQL constraints read the same numbers: what they keep stays in the unconstrained
    order whenever the normalisers do not change (here: --max-latency-ms, which keeps the latency scale)."""
    whole = recommend("ner", limit=0, db=scale_db)
    latencies = sorted(item.latency_ms.value for item in whole if item.latency_ms is not None)
    target = latencies[len(latencies) // 2]
    fast = recommend("ner", limit=0, max_latency_ms=target, db=scale_db)
    assert fast.items and all(item.latency_ms is not None and item.latency_ms.value <= target for item in fast)
    assert fast.excluded[f"--max-latency-ms {target:g}"] == sum(1 for value in latencies if value > target)
    assert fast.unverifiable_total == sum(1 for item in whole if item.latency_ms is None)
    pareto = recommend("ner", limit=0, pareto_only=True, db=scale_db)
    assert pareto.items and all(item.pareto for item in pareto)
    assert [i.model.id for i in pareto] == [i.model.id for i in whole if i.pareto]


def test_latency_table_gives_the_cost_model_value_for_every_family() -> None:
    """CatalogEstimator.latencies shares one shape per 1% step and typical model type: for every family of the
    taxonomy and sizes around step edges, the value latency_ms gives for that very candidate."""
    from catalog.costmodel.catalog_figures import CatalogEstimator
    from catalog.taxonomy import load_taxonomy

    families: list[str | None] = [None, "no-such-family", *(f.id for f in load_taxonomy().families)]
    rng = random.Random(3)
    sizes = [1, 999, 1000, 1005, 1010, *(int(10 ** rng.uniform(3, 11)) for _ in range(150))]
    for task in ("token-classification", "text-generation", "automatic-speech-recognition", "image-classification"):
        table = CatalogEstimator(None, task, 1, 128, "float32")
        direct = CatalogEstimator(None, task, 1, 128, "float32")
        wanted = [(params, family) for family in families for params in sizes]
        rng.shuffle(wanted)  # the first of a step to be looked up must not matter
        assert table.latencies(wanted) == [direct.latency_ms(params, family) for params, family in wanted]


def test_assessment_reads_candidates_without_evidence_as_none() -> None:
    facts = {"a": q.CandidateFacts(), "b": q.CandidateFacts(), "c": q.CandidateFacts(family="x")}
    item = q.EvidenceItem("evidence 1", "a", TASK, "conll2003", None, "test", "seqeval-f1", 0.9, True)
    result = q.assess(TASK, [], {"a": [item], "b": [], "zzz": [item]}, facts)
    assert set(result) == {"a"}  # only what has evidence; "zzz" is no candidate
    assert result["c"].basis == "none" and result["c"].value == 0.0 and not result["c"].ignored
    assert "c" in result  # read once, kept


def test_latency_steps_are_kept_for_the_next_run_of_the_same_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    """The steps one run computed are read back by the next (a fresh estimator, as in a new process), which computes
    only the steps it has not seen; another shape is another table; a damaged table is computed again."""
    from catalog.costmodel import catalog_figures
    from catalog.costmodel.catalog_figures import CatalogEstimator

    rng = random.Random(8)
    wanted = [(int(10 ** rng.uniform(6, 10)), rng.choice(["bert", "llama", None])) for _ in range(300)]
    first = CatalogEstimator(None, TASK, 1, 128, "float32").latencies(wanted)
    computed: list[tuple[int, str | None]] = []
    original = CatalogEstimator.latency_ms

    def counting(self: CatalogEstimator, params: int, family: str | None) -> float | None:
        computed.append((params, family))
        return original(self, params, family)

    monkeypatch.setattr(CatalogEstimator, "latency_ms", counting)
    assert CatalogEstimator(None, TASK, 1, 128, "float32").latencies(wanted) == first and computed == []
    more = [*wanted, (5 * 10**11, "bert")]
    assert CatalogEstimator(None, TASK, 1, 128, "float32").latencies(more)[:-1] == first and len(computed) == 1
    computed.clear()
    other = CatalogEstimator(None, TASK, 8, 128, "float32")
    assert other.latencies(wanted) != first and computed  # another batch: its own table
    name = catalog_figures._table_name(CatalogEstimator(None, TASK, 1, 128, "float32")._table_key())
    path = settings.data_dir() / "cache" / name
    path.write_text('[[1, "bert", "not a number"]]', encoding="utf-8")
    computed.clear()
    assert CatalogEstimator(None, TASK, 1, 128, "float32").latencies(wanted) == first and computed
