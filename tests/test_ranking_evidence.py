"""Ranking by quality evidence (catalog/recommend/quality.py): like is compared only with like."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import pytest

from catalog.evidence.benchmarks import language_of
from catalog.recommend.quality import (
    MEASURED_KIND,
    Benchmark,
    CandidateFacts,
    EvidenceItem,
    assess,
    parse_benchmarks,
)

CONLL = {"id": "conll2003", "name": "CoNLL-03", "datasets": ["conll2003", "eriktks/conll2003"], "splits": ["test"],
         "metric": "seqeval-f1", "weight": 1.0}  # fmt: skip
MMLU = {"id": "mmlu", "name": "MMLU", "datasets": ["cais/mmlu"], "metric": "accuracy", "protocol": {"n_shot": 5},
        "weight": 1.0}  # fmt: skip


def _item(
    model: str, value: float, dataset: str = "conll2003", metric: str = "seqeval-f1", **extra: Any
) -> EvidenceItem:
    fields: dict[str, Any] = dict(key=f"{model}:{dataset}:{metric}:{value}", model_id=model, task_id=None,
                                  dataset=dataset, dataset_config=None, split="test", metric=metric, value=value,
                                  higher_is_better=True, source_kind="model-card", source_name="card")  # fmt: skip
    fields.update(extra)
    return EvidenceItem(**fields)


def _facts(*models: str, **bases: str) -> dict[str, CandidateFacts]:
    return {m: CandidateFacts(base_model=bases.get(m.replace("/", "_"))) for m in models}


def test_standing_is_a_percentile_among_comparable_candidates() -> None:
    benchmarks = parse_benchmarks([CONLL])
    evidence = {"a": [_item("a", 0.90)], "b": [_item("b", 0.92, dataset="eriktks/conll2003")], "c": [_item("c", 0.85)]}
    result = assess("token-classification", benchmarks, evidence, _facts("a", "b", "c", "d"))
    assert result["b"].value > result["a"].value > result["c"].value > 0.0
    assert result["b"].value == pytest.approx(2.5 / 3) and result["c"].value == pytest.approx(0.5 / 3)
    assert result["d"].basis == "none" and result["d"].value == 0.0
    assert all(result[m].used[0].compared == 3 for m in "abc")  # dataset aliases are one benchmark


def test_lower_is_better_and_a_sole_result_places_nobody() -> None:
    wer = {"id": "libri", "name": "LibriSpeech", "datasets": ["librispeech_asr"], "metric": "wer"}
    evidence = {
        "whisper": [_item("whisper", 0.03, "librispeech_asr", "wer", higher_is_better=False)],
        "w2v": [_item("w2v", 0.06, "librispeech_asr", "wer", higher_is_better=False)],
    }
    result = assess("automatic-speech-recognition", parse_benchmarks([wer]), evidence, _facts("whisper", "w2v"))
    assert result["whisper"].value > result["w2v"].value
    alone = assess("automatic-speech-recognition", parse_benchmarks([wer]), evidence, _facts("w2v"))
    assert alone["w2v"].basis == "none"
    assert alone["w2v"].ignored[0].reason == "no comparable candidates on LibriSpeech"
    assert alone["w2v"].shown is not None  # still shown, marked as not compared


def test_protocol_off_task_and_other_benchmarks_are_ignored_with_reasons() -> None:
    evidence = {
        "a": [_item("a", 0.60, "cais/mmlu", "accuracy", n_shot=5), _item("a", 0.70, "cais/mmlu", "accuracy", n_shot=5,
              protocol="chain-of-thought"), _item("a", 0.3, "squad", "squad-f1", task_id="question-answering")],
        "b": [_item("b", 0.50, "cais/mmlu", "accuracy", protocol="5-shot"), _item("b", 0.9, "mystery", "accuracy"),
              _item("b", 0.80, "cais/mmlu", "accuracy", n_shot=0)],
    }  # fmt: skip
    result = assess("text-generation", parse_benchmarks([MMLU]), evidence, _facts("a", "b"))
    assert [u.value for u in result["a"].used] == [0.60] and [u.value for u in result["b"].used] == [0.50]
    reasons_a = {i.reason for i in result["a"].ignored}
    assert "incomparable protocol: chain-of-thought, MMLU is plain" in reasons_a
    assert "off-task: measures question-answering" in reasons_a
    reasons_b = {i.reason for i in result["b"].ignored}
    assert "incomparable protocol: 0-shot, MMLU is 5-shot" in reasons_b
    assert "not on one of the task's benchmarks (catalog.yaml)" in reasons_b


def test_unstated_protocol_is_the_benchmarks_and_other_tasks_need_a_plain_benchmark() -> None:
    evidence = {"a": [_item("a", 0.6, "cais/mmlu", "accuracy")], "b": [_item("b", 0.7, "cais/mmlu", "accuracy")]}
    result = assess("text-generation", parse_benchmarks([MMLU]), evidence, _facts("a", "b"))
    assert result["b"].value > result["a"].value  # a leaderboard names its protocol once, not per row
    tuned = {"id": "sst2-ft", "name": "SST-2 (fine-tuned)", "datasets": ["glue:sst2"], "metric": "accuracy",
             "protocol": {"variant": "fine-tuned"}}  # fmt: skip
    sst2 = dict(dataset_config="sst2", split="validation", task_id="text-classification")
    rows = {"x": [_item("x", 0.93, "glue", "accuracy", **sst2)], "y": [_item("y", 0.91, "glue", "accuracy", **sst2)]}
    as_fill_mask = assess("fill-mask", parse_benchmarks([tuned]), rows, _facts("x", "y"))
    assert as_fill_mask["x"].basis == "none"
    assert as_fill_mask["x"].ignored[0].reason == "off-task: measures text-classification"
    stated = {m: [_item(m, v, "glue", "accuracy", protocol="fine-tuned", **sst2)] for m, v in (("x", 0.93), ("y", 0.9))}
    assert assess("fill-mask", parse_benchmarks([tuned]), stated, _facts("x", "y"))["x"].basis == "evidence"


def test_aggregate_counts_only_full_coverage() -> None:
    members = [{"dataset": f"mteb/T{i}", "config": "default", "split": "test", "metric": "accuracy"} for i in range(4)]
    bench = {"id": "mteb", "name": "MTEB", "metric": "mteb-mean", "aggregate": members}
    full = {m: [_item(m, v + i / 100, f"mteb/T{i}", "accuracy") for i in range(4)] for m, v in (("x", 0.5), ("y", 0.6))}
    partial = [_item("z", 0.99, f"mteb/T{i}", "accuracy") for i in range(3)]
    result = assess("feature-extraction", parse_benchmarks([bench]), full | {"z": partial}, _facts("x", "y", "z"))
    assert result["y"].value > result["x"].value
    assert result["y"].headline is not None and len(result["y"].headline.items) == 4
    assert result["y"].headline.value == pytest.approx(sum(0.6 + i / 100 for i in range(4)) / 4)
    assert result["z"].basis == "none" and result["z"].partial == ["MTEB: partial coverage, 3 of 4"]
    assert result["z"].shown_on == "mteb/T0 (part of MTEB)"  # one task's figure, never shown as the aggregate's
    # another subset of a member's dataset is not the member
    other = [_item("y", 0.1, "mteb/T0", "accuracy", dataset_config="de")]
    again = assess("feature-extraction", parse_benchmarks([bench]), full | {"y": full["y"] + other}, _facts("x", "y"))
    assert again["y"].value == result["y"].value


def test_perplexity_is_never_compared_across_tokenizers_or_datasets() -> None:
    ppl = {"id": "wt2", "name": "WikiText-2 PPL", "datasets": ["wikitext2"], "metric": "perplexity"}
    low = dict(higher_is_better=False)
    evidence = {
        "gpt2": [_item("gpt2", 29.4, "wikitext2", "perplexity", **low)],
        "gpt2-ft": [_item("gpt2-ft", 25.0, "wikitext2", "perplexity", **low)],
        "llama": [_item("llama", 5.0, "wikitext2", "perplexity", **low)],
        "other": [_item("other", 3.0, "ptb", "perplexity", **low)],
    }
    facts = {"gpt2": CandidateFacts(), "gpt2-ft": CandidateFacts(base_model="gpt2"), "llama": CandidateFacts(),
             "other": CandidateFacts()}  # fmt: skip
    result = assess("text-generation", parse_benchmarks([ppl]), evidence, facts)
    assert result["gpt2-ft"].value > result["gpt2"].value  # same tokenizer (a fine-tune keeps its base's)
    assert result["llama"].basis == "none" and "no comparable candidates" in result["llama"].ignored[0].reason
    assert result["other"].basis == "none"
    tokenized = {m: [_item(m, v, "wikitext2", "perplexity", tokenizer="shared", **low)] for m, v in (("a", 9.0),
                 ("b", 7.0))}  # fmt: skip
    both = assess("text-generation", parse_benchmarks([ppl]), tokenized, _facts("a", "b"))
    assert both["b"].value > both["a"].value


def test_measured_here_is_evidence_and_comes_first() -> None:
    here = _item("a", 0.70, "uner_en_ewt", source_kind=MEASURED_KIND, split=None, subset="abc")
    evidence = {"a": [_item("a", 0.90), here], "b": [_item("b", 0.95), _item("b", 0.60, "uner_en_ewt",
                source_kind=MEASURED_KIND, split=None, subset="abc")]}  # fmt: skip
    result = assess("token-classification", parse_benchmarks([CONLL]), evidence, _facts("a", "b"))
    assert result["a"].headline is not None and result["a"].headline.item is here
    assert result["a"].headline.benchmark == "uner_en_ewt (here)"
    assert set(result["a"].benchmarks) == {"CoNLL-03", "uner_en_ewt (here)"}
    # a different evaluated subset (another --limit) is not comparable
    evidence["b"][1] = _item("b", 0.60, "uner_en_ewt", source_kind=MEASURED_KIND, split=None, subset="other")
    apart = assess("token-classification", parse_benchmarks([CONLL]), evidence, _facts("a", "b"))
    assert set(apart["a"].benchmarks) == {"CoNLL-03"}


def test_prior_from_the_base_model_is_discounted_and_labelled() -> None:
    evidence = {"base": [_item("base", 0.92)], "rival": [_item("rival", 0.80)]}
    facts = {"base": CandidateFacts(), "rival": CandidateFacts(), "tuned": CandidateFacts(base_model="base"),
             "stray": CandidateFacts()}  # fmt: skip
    result = assess("token-classification", parse_benchmarks([CONLL]), evidence, facts)
    assert result["tuned"].basis == "prior" and "fine-tune of base" in (result["tuned"].prior or "")
    assert 0 < result["tuned"].value < result["base"].value
    assert result["stray"].basis == "none"


def test_missing_benchmarks_count_as_the_middle() -> None:
    second = CONLL | {"id": "wnut", "name": "WNUT-17", "datasets": ["wnut_17"]}
    evidence = {"one": [_item("one", 0.99)], "all": [_item("all", 0.98), _item("all", 0.6, "wnut_17")],
                "low": [_item("low", 0.5), _item("low", 0.5, "wnut_17")]}  # fmt: skip
    result = assess("token-classification", parse_benchmarks([CONLL, second]), evidence, _facts("one", "all", "low"))
    assert result["one"].value == pytest.approx((2.5 / 3 + 0.5) / 2)
    assert result["all"].value == pytest.approx((1.5 / 3 + 0.75) / 2)


# ------------------------------------------------------------------------------------- property over random evidence


def _comparable(a: EvidenceItem, b: EvidenceItem, bench: Benchmark | None, facts: dict[str, CandidateFacts]) -> bool:
    """The definition, written independently of the implementation: same benchmark (checked by the caller), same
    canonical metric and direction, same protocol, and for perplexity the same tokenizer lineage."""
    if (a.metric, a.higher_is_better) != (b.metric, b.higher_is_better):
        return False
    if (a.source_kind == MEASURED_KIND) != (b.source_kind == MEASURED_KIND):
        return False
    if a.source_kind == MEASURED_KIND and a.subset != b.subset:
        return False
    if bench is None and (a.shots, a.variant, a.dataset.lower()) != (b.shots, b.variant, b.dataset.lower()):
        return False
    same_language = a.dataset.lower() == b.dataset.lower() and language_of(a) == language_of(b) is not None
    if bench is not None and bench.by_language and not same_language:  # one language of one release at a time
        return False
    if a.metric == "perplexity":
        lineage = [x.tokenizer or facts[x.model_id].base_model or x.model_id for x in (a, b)]
        return lineage[0] == lineage[1]
    return True


def _random_evidence(rng: random.Random) -> tuple[list[Benchmark], dict[str, list[EvidenceItem]], dict[str, Any]]:
    datasets = ["d1", "d2", "d3", "d4", "mystery"]
    metrics = [("accuracy", True), ("f1", True), ("wer", False), ("perplexity", False)]
    raw = []
    for i, dataset in enumerate(datasets[:4]):
        metric = rng.choice(metrics)[0]
        entry: dict[str, Any] = {"id": f"b{i}", "name": f"B{i}", "datasets": [dataset, f"alias-{dataset}"],
                                 "metric": metric, "weight": rng.choice([0.25, 0.5, 1.0])}  # fmt: skip
        if rng.random() < 0.5:
            entry["protocol"] = {"n_shot": rng.choice([0, 5])}
        raw.append(entry)
    raw.append({"id": "agg", "name": "AGG", "metric": "mteb-mean",
                "aggregate": [{"dataset": d, "metric": "accuracy"} for d in ("d1", "d2")]})  # fmt: skip
    raw.append({"id": "lang", "name": "LANG", "datasets": ["d5", "alias-d5"], "metric": rng.choice(metrics)[0],
                "by_language": True})  # fmt: skip
    datasets.append("d5")
    models = [f"m{i}" for i in range(rng.randint(2, 12))]
    facts = {m: CandidateFacts(base_model=rng.choice([None, None, *models])) for m in models}
    evidence: dict[str, list[EvidenceItem]] = {}
    bench_metric = {entry["datasets"][0]: entry["metric"] for entry in raw if "datasets" in entry}
    for n in range(rng.randint(0, 150)):
        model = rng.choice(models)
        dataset = rng.choice(datasets)
        metric, higher = rng.choice(metrics)
        if rng.random() < 0.6 and dataset in bench_metric:  # mostly the benchmark's own metric, or the aggregate's
            metric = rng.choice([bench_metric[dataset], "accuracy"])
            higher = dict(metrics)[metric]
        if rng.random() < 0.1:
            higher = not higher  # a source with the wrong direction must still never meet the others
        evidence.setdefault(model, []).append(EvidenceItem(
            key=f"e{n}", model_id=model, task_id=rng.choice([None, None, None, "other-task"]),
            dataset=rng.choice([dataset, f"alias-{dataset}"]) if dataset != "mystery" else dataset,
            dataset_config=rng.choice([None, "fr", "fr_FR", "de", "de-DE", "zh-CN"]), split=None, metric=metric, value=rng.uniform(0, 100), higher_is_better=higher,
            n_shot=rng.choice([None, 0, 5, 5]), protocol=rng.choice([None, None, None, "cot"]),
            source_kind=rng.choice(["model-card", "leaderboard", MEASURED_KIND]), source_name="gen",
            source_date=datetime(2024, rng.randint(1, 12), 1), tokenizer=rng.choice([None, "t1"]),
            subset=rng.choice(["s1", "s2"]),
        ))  # fmt: skip
    return parse_benchmarks(raw), evidence, facts


def _languages(rng: random.Random) -> tuple[str, ...]:
    """The languages asked for (--language), as the by_language benchmark reads them."""
    return rng.choice([(), ("fr",), ("fr", "de"), ("zh",), ("en",)])


@pytest.mark.parametrize("seed", range(300))
def test_no_ranking_compares_across_benchmarks_metrics_or_directions(seed: int) -> None:
    rng = random.Random(seed)
    benchmarks, evidence, facts = _random_evidence(rng)
    languages = _languages(rng)
    by_id = {b.id: b for b in benchmarks}
    result = assess("task", benchmarks, evidence, facts, languages)
    groups: dict[tuple[Any, ...], list[tuple[str, Any]]] = {}
    for model, quality in result.items():
        assert 0.0 <= quality.value <= 1.0
        for used in quality.used:
            groups.setdefault(used.group, []).append((model, used))
    for members in groups.values():
        models = [model for model, _ in members]
        assert len(models) == len(set(models)) >= 2  # one figure per model, never a group of one
        bench = by_id.get(members[0][1].benchmark_id)
        for _, used in members:
            assert used.benchmark_id == members[0][1].benchmark_id
            assert used.compared == len(members)
            for item in used.items:
                # another task's row only on one of this task's benchmarks without a variant
                assert item.task_id in (None, "task") or (bench is not None and bench.variant is None)
                if bench is not None and not bench.aggregate:
                    assert item.dataset in bench.datasets and item.metric == bench.metric
                    if bench.n_shot is not None and item.source_kind != MEASURED_KIND:  # one harness here
                        assert item.shots in (None, bench.n_shot)  # unstated: the benchmark's own protocol
                if bench is not None and bench.aggregate:
                    assert item.dataset in {m.dataset for m in bench.aggregate} and item.metric == "accuracy"
                if bench is not None and bench.by_language:  # only the languages asked for
                    assert language_of(item) in languages
        firsts = [used.items[0] for _, used in members]
        for a in firsts:
            for b in firsts:
                assert _comparable(a, b, bench, facts), (a, b)
        # within a group the order follows the value in the group's one direction
        direction = members[0][1].higher_is_better
        assert all(used.higher_is_better == direction for _, used in members)
        ordered = sorted(members, key=lambda mu: mu[1].value if direction else -mu[1].value)
        standings = [used.standing for _, used in ordered]
        assert standings == sorted(standings)


@pytest.mark.parametrize("seed", range(50))
def test_values_outside_a_group_do_not_move_its_standings(seed: int) -> None:
    rng = random.Random(1000 + seed)
    benchmarks, evidence, facts = _random_evidence(rng)
    before = assess("task", benchmarks, evidence, facts)
    target = next((u.group for q in before.values() for u in q.used), None)
    if target is None:
        return
    inside = {id(i) for q in before.values() for u in q.used if u.group == target for i in u.items}
    shaken = {m: [i if id(i) in inside else EvidenceItem(**(vars(i) | {"value": rng.uniform(0, 100)})) for i in items]
              for m, items in evidence.items()}  # fmt: skip
    after = assess("task", benchmarks, shaken, facts)
    for model in facts:
        old = [u.standing for u in before[model].used if u.group == target]
        new = [u.standing for u in after[model].used if u.group == target]
        assert old == new


def test_family_prior_only_where_families_predict_their_members() -> None:
    from catalog.recommend.quality import MIN_FAMILY_RELIABILITY, family_reliability

    consistent = [[0.9, 0.92, 0.88], [0.1, 0.12, 0.08], [0.5, 0.52, 0.48]]
    assert family_reliability(consistent) > MIN_FAMILY_RELIABILITY
    shuffled = [[0.9, 0.1, 0.5], [0.12, 0.92, 0.48], [0.52, 0.08, 0.88]]
    assert family_reliability(shuffled) < MIN_FAMILY_RELIABILITY
    assert family_reliability([[0.9, 0.92, 0.88]]) == 0.0  # too few models to tell

    def run(families: list[list[float]]) -> dict[str, Any]:
        evidence, facts = {}, {}
        for f, standings in enumerate(families):
            for i, value in enumerate(standings):
                model = f"f{f}-m{i}"
                evidence[model] = [_item(model, value)]
                facts[model] = CandidateFacts(family=f"fam{f}")
            facts[f"f{f}-new"] = CandidateFacts(family=f"fam{f}")
        return assess("token-classification", parse_benchmarks([CONLL]), evidence, facts)

    predictive = run(consistent)
    assert predictive["f0-new"].basis == "prior" and predictive["f0-new"].value > predictive["f1-new"].value
    assert "r = " in (predictive["f0-new"].prior or "")
    assert run(shuffled)["f0-new"].basis == "none"


@pytest.mark.parametrize("seed", range(60))
def test_ranking_and_evidence_list_read_rows_by_one_rule(seed: int) -> None:
    """Every row the ranking places on a benchmark is one `catalog evidence list --benchmark` accepts for it
    (catalog.evidence.benchmarks.matches), and every row it ignores for not fitting is accepted by none."""
    from catalog.evidence.benchmarks import matches

    rng = random.Random(5000 + seed)
    benchmarks, evidence, facts = _random_evidence(rng)
    languages = _languages(rng)
    by_id = {b.id: b for b in benchmarks}
    result = assess("task", benchmarks, evidence, facts, languages)
    placed_here = {"no comparable candidates", "another figure", "partial coverage"}
    for quality in result.values():
        for used in quality.used:
            bench = by_id.get(used.benchmark_id)
            for item in used.items:
                assert bench is None or matches(bench, item, "task", languages), (bench, item)
        for ignored in quality.ignored:
            if any(phrase in ignored.reason for phrase in placed_here):
                continue  # placed on a benchmark, then not compared: the rule accepted it
            assert not any(matches(b, ignored.item, "task", languages) for b in benchmarks), (
                ignored.reason,
                ignored.item,
            )


def test_a_row_without_a_split_is_taken_and_says_so() -> None:
    evidence = {"a": [_item("a", 0.90, split=None)], "b": [_item("b", 0.80)], "c": [_item("c", 0.7, split="dev")]}
    result = assess("token-classification", parse_benchmarks([CONLL]), evidence, _facts("a", "b", "c"))
    assert result["a"].basis == "evidence" and result["a"].value > result["b"].value
    assert result["a"].notes == {evidence["a"][0].key: "split not stated"} and not result["b"].notes
    assert result["c"].ignored[0].reason == "other split: dev, CoNLL-03 uses test"


FLEURS = {"id": "fleurs", "name": "FLEURS", "datasets": ["google/fleurs"], "metric": "wer", "by_language": True}
COMMON_VOICE = {"id": "cv", "name": "CommonVoice", "metric": "wer", "by_language": True,
                "datasets": ["mozilla-foundation/common_voice_7_0", "mozilla-foundation/common_voice_8_0"]}  # fmt: skip


def _wer(model: str, value: float, dataset: str, config: str | None) -> EvidenceItem:
    return _item(model, value, dataset, "wer", higher_is_better=False, dataset_config=config, key=f"{model}{config}")


def test_a_by_language_benchmark_compares_one_language_at_a_time_and_only_those_asked_for() -> None:
    evidence = {
        "fr-model": [_wer("fr-model", 0.08, "google/fleurs", "fr_fr")],
        "multi": [_wer("multi", 0.12, "google/fleurs", "fr_fr"), _wer("multi", 0.04, "google/fleurs", "de_de")],
        "de-model": [_wer("de-model", 0.02, "google/fleurs", "de_de")],  # the best WER, but in German
        "unstated": [_wer("unstated", 0.01, "google/fleurs", None)],
    }
    facts = _facts("fr-model", "multi", "de-model", "unstated")
    benchmarks = parse_benchmarks([FLEURS])
    french = assess("automatic-speech-recognition", benchmarks, evidence, facts, ("fr",))
    assert french["fr-model"].value > french["multi"].value > 0
    assert [u.benchmark for u in french["fr-model"].used] == ["FLEURS fr"]
    assert french["de-model"].basis != "evidence"
    assert french["de-model"].ignored[0].reason == "another language: de on FLEURS, asked for fr"
    assert french["unstated"].ignored[0].reason == "another language: none stated on FLEURS, asked for fr"
    # two languages asked for: a standing per language, never one group across them
    both = assess("automatic-speech-recognition", benchmarks, evidence, facts, ("fr", "de"))
    groups = {u.group for q in both.values() for u in q.used}
    assert len(groups) == 2
    assert {u.benchmark for u in both["multi"].used} == {"FLEURS fr", "FLEURS de"}
    assert both["multi"].value == pytest.approx((0.25 + 0.25) / 2)  # worse in fr (1 of 2), worse in de (1 of 2)
    # no language asked for: the benchmark ranks nothing, and says why
    none = assess("automatic-speech-recognition", benchmarks, evidence, facts)
    assert all(q.basis != "evidence" for q in none.values())
    assert none["fr-model"].ignored[0].reason == "per-language: FLEURS fr counts with --language"


def test_each_release_of_a_by_language_benchmark_compares_only_with_itself() -> None:
    evidence = {
        "a": [_wer("a", 0.20, "mozilla-foundation/common_voice_7_0", "fr")],
        "b": [_wer("b", 0.10, "mozilla-foundation/common_voice_8_0", "fr")],
        "c": [_wer("c", 0.15, "mozilla-foundation/common_voice_8_0", "fr-FR")],
    }
    result = assess("automatic-speech-recognition", parse_benchmarks([COMMON_VOICE]), evidence, _facts("a", "b", "c"),
                    ("fr",))  # fmt: skip
    assert result["b"].value > result["c"].value  # CV 8.0 fr and fr-FR: one group
    assert result["a"].basis != "evidence"  # alone on CV 7.0
    assert result["a"].ignored[0].reason == "no comparable candidates on CommonVoice fr"


def test_language_of_reads_the_config() -> None:
    from catalog.evidence.benchmarks import language_of

    assert [language_of(_wer("m", 0.1, "d", c)) for c in ("fr", "fr_fr", "zh-CN", "PT", None, "")] == [
        "fr", "fr", "zh", "pt", None, None
    ]  # fmt: skip
