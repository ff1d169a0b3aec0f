"""Does `--profile accurate` put good models first? Held-out checks on real published results.

The 9,715-model Hub snapshot is imported with `catalog sync --from-snapshot` and every file of ../shared/evidence
with `catalog evidence import`. Part of the evidence is then held out of the ranking: the task's benchmarks are
replaced by one half (embeddings: half of the 56 MTEB(eng, v1) tasks, alternating within each task type; text
generation: ARC + HellaSwag of the Open LLM Leaderboard v1), the recommender ranks the task's models with
`--profile accurate`, and the order is compared (Spearman) with the models' mean on the other half (MTEB: the
other 28 tasks; text generation: MMLU + TruthfulQA). The held-out means are computed with the evidence package's
own aggregate rules (catalog.evidence.benchmarks), not the ranking code. "Largest model first" and "most
downloaded first" on the same models are printed as baselines to beat.

Run: pytest tests/perf/test_ranking_quality.py -s -q
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import select, update

from catalog.db import open_database
from catalog.db.schema import models, reported_facts, tasks
from catalog.evidence.benchmarks import aggregate_coverage
from catalog.evidence.query import evidence_for_task, task_benchmarks
from catalog.recommend import COMPONENTS, recommend

from ..conftest import require_shared
from ..support.shared_evidence import SOURCES


def _catalog(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "catalog", *args], check=True, stdout=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def evidence_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    snapshot = require_shared("hub/hf_models_2024-09-20.csv")
    root = require_shared("evidence")
    url = f"sqlite:///{tmp_path_factory.mktemp('ranking') / 'catalog.db'}"
    _catalog("sync", "--from-snapshot", str(snapshot), "--db", url)
    for source in SOURCES:
        _catalog("evidence", "import", str(root / source), "--db", url)
    yield url


def _ranks(values: Sequence[float]) -> list[float]:
    """Average ranks (ties share the mean of their positions)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    return pearson(_ranks(a), _ranks(b))


def pearson(ra: Sequence[float], rb: Sequence[float]) -> float:
    n = len(ra)
    mean_a, mean_b = sum(ra) / n, sum(rb) / n
    cov = sum((x - mean_a) * (y - mean_b) for x, y in zip(ra, rb, strict=True))
    var_a = sum((x - mean_a) ** 2 for x in ra)
    var_b = sum((y - mean_b) ** 2 for y in rb)
    return cov / (var_a * var_b) ** 0.5 if var_a > 0 and var_b > 0 else 0.0


def test_spearman_helper() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2], [5, 5, 9]) == pytest.approx(1.0)


def _held_out_means(url: str, task: str, held_out: list[dict[str, Any]]) -> dict[str, float]:
    """Each model's mean over the held-out benchmarks (every one covered), by the evidence package's own rules."""
    from catalog.evidence.benchmarks import matches

    db = open_database(url)
    with db.connect() as conn:
        rows = evidence_for_task(conn, task)
    db.dispose()
    means: dict[str, float] = {}
    for model, found in rows.items():
        values = []
        for bench in held_out:
            if bench.get("aggregate"):
                coverage = aggregate_coverage(bench, found)
                values.append(coverage.mean)
            else:
                hits = [row.value for row in found if matches(bench, row)]
                values.append(max(hits) if hits else None)
        if all(v is not None for v in values):
            means[model] = sum(v for v in values if v is not None) / len(values)
    return means


def _sizes_and_downloads(url: str, ids: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Parameter counts (the catalog's, else a source's reported figure, e.g. MTEB model_meta) and downloads."""
    db = open_database(url)
    with db.connect() as conn:
        found = {r.id: r for r in conn.execute(select(models.c.id, models.c.params, models.c.downloads)
                                               .where(models.c.id.in_(ids)))}  # fmt: skip
        facts = {r.model_id: r.value for r in conn.execute(
            select(reported_facts.c.model_id, reported_facts.c.value)
            .where(reported_facts.c.fact == "params", reported_facts.c.model_id.in_(ids)))}  # fmt: skip
    db.dispose()
    sizes: dict[str, float] = {}
    for model in ids:
        params = found[model].params if model in found else None
        fact = facts.get(model)
        if params is None and isinstance(fact, int | float) and fact > 0:
            params = fact
        if params:
            sizes[model] = float(params)
    downloads = {m: float(found[m].downloads or 0) for m in ids if m in found}
    return sizes, downloads


def _rank_with(url: str, task: str, held_in: list[dict[str, Any]], *, component_only: bool = False) -> list[str]:
    """The recommender's `accurate` order with the task's benchmarks replaced by the held-in ones, keeping the
    models it placed on them (evidence, not a prior); with component_only, the order of the accuracy component
    alone (every other weight 0)."""
    db = open_database(url)
    with db.write() as conn:
        original = task_benchmarks(conn, task)
        conn.execute(update(tasks).where(tasks.c.id == task).values(benchmarks=held_in))
    try:
        weights = {name: 0.0 for name in COMPONENTS} | {"accuracy": 1.0} if component_only else None
        result = recommend(task, profile="accurate", weights=weights, limit=0, include_gated=True, include_api=True,
                           db=db)  # fmt: skip
        return [item.model.id for item in result if item.evidence is not None and item.evidence.basis == "evidence"]
    finally:
        with db.write() as conn:
            conn.execute(update(tasks).where(tasks.c.id == task).values(benchmarks=original))
        db.dispose()


def _report(name: str, orders: tuple[list[str], list[str]], held_out: dict[str, float], url: str) -> dict[str, float]:
    order, component = orders
    placed = [m for m in order if m in held_out]
    truth = [held_out[m] for m in placed]
    figures = {"evidence (accurate)": spearman([-i for i in range(len(placed))], truth)}
    position = {m: i for i, m in enumerate(component)}
    figures["accuracy component alone"] = spearman([-position[m] for m in placed], truth)
    sizes, downloads = _sizes_and_downloads(url, placed)
    figures["largest model first"] = spearman([sizes.get(m, 0.0) for m in placed], truth)
    figures["most downloaded first"] = spearman([downloads.get(m, 0.0) for m in placed], truth)
    print(f"\n[ranking] {name}: {len(placed)} models placed on the held-in half and covered by the held-out half "
          f"({len(placed) - len([m for m in placed if m in sizes])} without a parameter count rank last by size)")  # fmt: skip
    for label, rho in figures.items():
        print(f"[ranking]   Spearman vs held-out, {label:<24} {rho:+.3f}")
    return figures | {"n": float(len(placed))}


def _mteb_halves(url: str, task: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    db = open_database(url)
    with db.connect() as conn:
        classic = next(b for b in task_benchmarks(conn, task) if b["id"] == "mteb-classic")
    db.dispose()
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for member in classic["aggregate"]:
        by_metric.setdefault(member["metric"], []).append(member)
    halves: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
    for members in by_metric.values():
        for i, member in enumerate(sorted(members, key=lambda m: m["dataset"])):
            halves[i % 2].append(member)
    a, b = (classic | {"id": f"mteb-half-{n}", "name": f"MTEB half {n}", "aggregate": half}
            for n, half in zip("AB", halves, strict=True))  # fmt: skip
    return [a], [b]


@pytest.mark.perf
@pytest.mark.parametrize("task", ["sentence-similarity", "feature-extraction"])
def test_embeddings_ranked_on_half_of_mteb_predict_the_other_half(
    evidence_url: str, task: str, capsys: pytest.CaptureFixture[str]
) -> None:
    held_in, held_out = _mteb_halves(evidence_url, task)
    order = (_rank_with(evidence_url, task, held_in), _rank_with(evidence_url, task, held_in, component_only=True))
    truth = _held_out_means(evidence_url, task, held_out)
    with capsys.disabled():
        figures = _report(f"{task}: ranked on 28 MTEB(eng, v1) tasks, held out the other 28", order, truth,
                          evidence_url)  # fmt: skip
    assert figures["n"] >= 10
    assert figures["evidence (accurate)"] > 0  # better than chance on data it never saw


@pytest.mark.perf
def test_text_generation_ranked_on_arc_hellaswag_predicts_mmlu_truthfulqa(
    evidence_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = open_database(evidence_url)
    with db.connect() as conn:
        benchmarks = {b["id"]: b for b in task_benchmarks(conn, "text-generation")}
    db.dispose()
    held_in = [benchmarks["openllm-v1-arc"], benchmarks["openllm-v1-hellaswag"]]
    held_out = [benchmarks["openllm-v1-mmlu"], benchmarks["openllm-v1-truthfulqa"]]
    order = (
        _rank_with(evidence_url, "text-generation", held_in),
        _rank_with(evidence_url, "text-generation", held_in, component_only=True),
    )
    truth = _held_out_means(evidence_url, "text-generation", held_out)
    with capsys.disabled():
        figures = _report("text-generation: ranked on ARC + HellaSwag, held out MMLU + TruthfulQA", order, truth,
                          evidence_url)  # fmt: skip
        for bench in held_out:  # how much of the held-out pair each half explains (TruthfulQA tracks little)
            alone = _held_out_means(evidence_url, "text-generation", [bench])
            placed = [m for m in order[0] if m in alone]
            rho = spearman([-i for i in range(len(placed))], [alone[m] for m in placed])
            print(f"[ranking]   Spearman vs {bench['name']} alone ({len(placed)} models): {rho:+.3f}")
    assert figures["n"] >= 10
    assert figures["evidence (accurate)"] > 0


@pytest.mark.perf
def test_family_prior_against_evaluated_members(evidence_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The data behind the prior: each evaluated model's own standing against the prior it would get from its
    family's other evaluated members (leave one out), with the task's full benchmarks."""
    from catalog.recommend.quality import MIN_FAMILY_RELIABILITY, family_prior, family_reliability

    db = open_database(evidence_url)
    lines = []
    for task in ("text-generation", "feature-extraction", "sentence-similarity", "automatic-speech-recognition"):
        result = recommend(task, profile="accurate", limit=0, include_gated=True, include_api=True, db=db)
        by_family: dict[str, list[float]] = {}
        for item in result:
            if item.evidence is not None and item.evidence.basis == "evidence" and item.model.family:
                by_family.setdefault(item.model.family, []).append(item.evidence.value)
        pairs = [
            (value, family_prior(values[:i] + values[i + 1 :]))
            for values in by_family.values()
            if len(values) >= 3
            for i, value in enumerate(values)
        ]
        priors = sum(1 for item in result if item.evidence is not None and item.evidence.basis == "prior")
        own, prior = [a for a, _ in pairs], [b for _, b in pairs]
        rho = spearman(own, prior) if len(pairs) > 2 else float("nan")
        r = pearson(own, prior) if len(pairs) > 2 else float("nan")
        used = "used" if family_reliability(by_family.values()) >= MIN_FAMILY_RELIABILITY else "not used"
        lines.append(f"[ranking] family prior, {task}: leave-one-out Spearman {rho:+.3f}, Pearson {r:+.3f} over "
                     f"{len(pairs)} evaluated models (family prior {used}); {priors} unevaluated candidates get a "
                     "prior")  # fmt: skip
    db.dispose()
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert lines


@pytest.mark.perf
def test_evidence_rows_reaching_catalog_models(evidence_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """How many evidence rows name a catalog model as written, and how many more reach one through
    catalog.evidence.identity (pre-2024 Hub ids, case); then the ranking's evidence read per task (in process)."""
    import statistics
    import time

    from catalog.db.schema import evidence, model_tasks
    from catalog.evidence.identity import ModelIds
    from catalog.recommend.engine import _evidence

    db = open_database(evidence_url)
    with db.connect() as conn:
        ids = ModelIds(conn.execute(select(models.c.id)).scalars())
        counts: dict[str, int] = {}
        at_import: dict[str, int] = {}  # rows stored under the catalog id, the source's spelling in details
        for model_id, details in conn.execute(select(evidence.c.model_id, evidence.c.details)):
            counts[model_id] = counts.get(model_id, 0) + 1
            if (details or {}).get("published_as"):
                at_import[details["published_as"]] = at_import.get(details["published_as"], 0) + 1
        reads = []
        for task in ("token-classification", "feature-extraction", "text-generation"):
            candidates = set(
                conn.execute(select(model_tasks.c.model_id).where(model_tasks.c.task_id == task)).scalars()
            )
            benchmarks = task_benchmarks(conn, task)
            timings = []
            for _ in range(5):
                start = time.perf_counter()
                found = _evidence(conn, task, candidates, benchmarks)
                timings.append(time.perf_counter() - start)
            rows = sum(len(v) for v in found.values())
            reads.append(f"[ranking] evidence read {task}: {len(candidates)} candidates, {rows} rows, median "
                         f"{statistics.median(timings) * 1000:.1f} ms (measured here, in process)")  # fmt: skip
    db.dispose()
    total = sum(counts.values())
    mapped_at_import = sum(at_import.values())
    as_written = sum(n for m, n in counts.items() if m in ids.ids) - mapped_at_import
    at_read = {m: ids.resolve(m) for m in counts if m not in ids.ids}
    more = sum(counts[m] for m, target in at_read.items() if target is not None)
    with capsys.disabled():
        print(f"\n[ranking] evidence rows naming a catalog model: {as_written} of {total} as the source wrote it; "
              f"{mapped_at_import} more stored under the catalog id at import (legacy Hub id or case: "
              f"{', '.join(sorted(at_import)[:8])}), {more} resolved when read")  # fmt: skip
        print("\n".join(reads))
    assert as_written + mapped_at_import + more <= total
