"""Every metric against known answers: hand-computed cases and the libraries' own documented examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench import metrics as m

# ------------------------------------------------------------------------------------------------ classification


def test_accuracy_and_macro_f1_by_hand() -> None:
    refs, preds = [0, 1, 1, 0], [0, 1, 0, 0]
    assert m.accuracy(refs, preds) == 0.75
    # class 0: P = 2/3, R = 1 -> F1 0.8; class 1: P = 1, R = 1/2 -> F1 2/3
    assert m.macro_f1(refs, preds) == pytest.approx((0.8 + 2 / 3) / 2)


def test_macro_f1_scikit_learn_documented_example() -> None:
    # sklearn.metrics.f1_score docstring: average='macro' -> 0.26...
    assert m.macro_f1([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1]) == pytest.approx(0.2666666, abs=1e-6)


def test_unmapped_prediction_counts_as_a_miss() -> None:
    assert m.macro_f1([0, 1], [0, -1], labels=[0, 1]) == pytest.approx((1.0 + 0.0) / 2)
    assert m.accuracy([0, 1], [0, -1]) == 0.5


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(m.MetricError, match="pair up"):
        m.accuracy([0, 1], [0])


def test_top_k_accuracy_documented_example_and_ranked_lists() -> None:
    # sklearn.metrics.top_k_accuracy_score docstring: k=2 -> 0.75
    y_true = [0, 1, 2, 2]
    y_score = np.array([[0.5, 0.2, 0.2], [0.3, 0.4, 0.2], [0.2, 0.4, 0.3], [0.7, 0.2, 0.1]])
    assert m.top_k_accuracy(y_true, y_score, k=2) == 0.75
    assert m.top_k_accuracy(y_true, y_score, k=1) == 0.5
    ranked = [[3, 1, 2, 0, 4, 5], [1, 0], [0, 1, 2, 3, 4, 2], [9, 8, 7, 6, 5, 4]]
    assert m.top_k_accuracy([3, 0, 2, 2], ranked, k=1) == 0.25
    assert m.top_k_accuracy([3, 0, 2, 2], ranked, k=5) == 0.75


# -------------------------------------------------------------------------------------------------- label mapping


@pytest.mark.parametrize(
    ("model_labels", "method", "expected"),
    [
        (["NEGATIVE", "POSITIVE"], "name", {"NEGATIVE": 0, "POSITIVE": 1}),
        (["POSITIVE", "NEGATIVE"], "name", {"POSITIVE": 1, "NEGATIVE": 0}),
        (["neg", "pos"], "synonym", {"neg": 0, "pos": 1}),
        (["负面", "正面"], "synonym", {"负面": 0, "正面": 1}),
        (["LABEL_0", "LABEL_1"], "index", {"LABEL_0": 0, "LABEL_1": 1}),
    ],
)
def test_label_mapping_to_binary_sentiment(model_labels: list[str], method: str, expected: dict[str, int]) -> None:
    mapping = m.map_labels(model_labels, ["negative", "positive"])
    assert mapping.method == method
    assert mapping.mapping == expected


def test_star_ratings_map_to_binary_with_three_stars_always_wrong() -> None:
    stars = ["1 star", "2 stars", "3 stars", "4 stars", "5 stars"]
    mapping = m.map_labels(stars, ["negative", "positive"])
    assert mapping.method == "stars"
    assert mapping.map_all(stars) == [0, 0, -1, 1, 1]
    with_neutral = m.map_labels(stars, ["negative", "neutral", "positive"])
    assert with_neutral.map_all(stars) == [0, 0, 1, 2, 2]


def test_label_mapping_refuses_when_nothing_matches() -> None:
    with pytest.raises(m.LabelMappingError, match=r"Cannot map the model's labels \['sports', 'politics'\]"):
        m.map_labels(["sports", "politics"], ["negative", "positive"])
    with pytest.raises(m.LabelMappingError, match="nothing predicts"):  # 3 generic labels for a 2-label set
        m.map_labels(["LABEL_0", "LABEL_1", "LABEL_2"], ["negative", "positive"])
    with pytest.raises(m.LabelMappingError, match="nothing predicts"):  # the model can never say 'positive'
        m.map_labels(["NEGATIVE", "NEUTRAL"], ["negative", "positive"])
    mapping = m.map_labels(["NEGATIVE", "POSITIVE"], ["negative", "positive"])
    with pytest.raises(m.LabelMappingError, match="not among the labels it declared"):
        mapping("MIXED")


def test_label_mapping_by_same_name_for_topic_labels() -> None:
    mapping = m.map_labels(["医学", "工学"], ["工学", "医学"])
    assert mapping.mapping == {"医学": 1, "工学": 0}


# ----------------------------------------------------------------------------------------------------------- NER


def test_seqeval_readme_example() -> None:
    # seqeval README: f1_score -> 0.50; MISC 0.00, PER 1.00 in the report
    y_true = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    y_pred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    scores = m.seqeval_scores(y_true, y_pred)
    assert scores["f1"] == pytest.approx(0.5)
    assert scores["precision"] == pytest.approx(0.5) and scores["recall"] == pytest.approx(0.5)
    assert scores["per_type"]["MISC"]["f1"] == 0.0 and scores["per_type"]["PER"]["f1"] == 1.0


def test_seqeval_strict_mode_readme_example() -> None:
    # seqeval README: default mode counts I-NP I-NP as an entity (1.0); strict IOB2 mode does not (0.0)
    y_true, y_pred = [["B-NP", "I-NP", "O"]], [["I-NP", "I-NP", "O"]]
    assert m.seqeval_scores(y_true, y_pred)["f1"] == 1.0
    assert m.seqeval_scores(y_true, y_pred, strict=True)["f1"] == 0.0


def test_seqeval_by_hand() -> None:
    # 3 gold entities (PER, LOC, ORG); predicted PER (right), LOC with a wrong span, nothing for ORG
    y_true = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG"]]
    y_pred = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"]]
    scores = m.seqeval_scores(y_true, y_pred)
    assert scores["precision"] == pytest.approx(1 / 2)
    assert scores["recall"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))


def test_entity_type_mapping() -> None:
    tags = ["B-PERSON", "I-PERSON", "O", "B-MISC", "I-MISC", "B-GPE", "B-ORGANIZATION", "I-ORGANIZATION", "LOCATION"]
    assert m.map_entity_tags(tags, ["PER", "ORG", "LOC"]) == [
        "B-PER",
        "I-PER",
        "O",
        "O",
        "O",
        "B-LOC",
        "B-ORG",
        "I-ORG",
        "B-LOC",
    ]
    # MISC survives when the dataset annotates it
    assert m.map_entity_tags(["B-MISC", "I-MISC"], ["PER", "MISC"]) == ["B-MISC", "I-MISC"]


# ------------------------------------------------------------------------------------------------------------ QA


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Cat!", "cat"),
        ("  A  quick, brown-fox. ", "quick brownfox"),
        ("an apple and the  pear", "apple and pear"),
        ("Theatre", "theatre"),  # articles only as whole words
        ("1,000 (approx.)", "1000 approx"),
    ],
)
def test_squad_normalisation(text: str, normalized: str) -> None:
    assert m.normalize_answer(text) == normalized


def test_squad_exact_match_and_f1_by_hand() -> None:
    assert m.squad_exact_match("The Denver Broncos", ["Denver Broncos", "Broncos"]) == 1.0
    # prediction [cat, sat] vs gold [cat, sat, on, mat]: P = 1, R = 1/2 -> F1 = 2/3
    assert m.squad_f1("the cat sat", ["cat sat on the mat"]) == pytest.approx(2 / 3)
    # the best of several gold answers counts
    assert m.squad_f1("the cat sat", ["dog", "cat sat"]) == 1.0
    scores = m.squad_scores(
        ["Denver Broncos", "the cat sat", "nothing"], [["Denver Broncos"], ["cat sat on the mat"], ["x"]]
    )
    assert scores["exact_match"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert scores["per_example"]["exact_match"] == [1.0, 0.0, 0.0]


def test_cmrc_chinese_character_level_scores() -> None:
    # CMRC2018 rules: CJK characters are tokens, punctuation is removed, F1 over the longest common substring
    assert m.cmrc_segment("《战国无双3》是光荣 and ω-force开发", remove_punctuation=True) == [
        "战",
        "国",
        "无",
        "双",
        "3",
        "是",
        "光",
        "荣",
        "and",
        "ωforce",
        "开",
        "发",
    ]
    assert m.cmrc_exact_match("《战国无双3》", ["战国无双3"]) == 1.0
    # gold [光, 荣] vs prediction [光, 荣, 和, ωforce]: LCS 2, P = 2/4, R = 2/2 -> F1 = 2/3
    assert m.cmrc_f1("光荣和ω-force", ["光荣"]) == pytest.approx(2 / 3)
    assert m.qa_example_scores("光荣和ω-force", ["光荣和ω-force", "光荣"], "zh") == (1.0, 1.0)
    # the English rules would see one token and score 0 here
    assert m.squad_f1("北京大学", ["北京"]) == 0.0
    assert m.qa_example_scores("北京大学", ["北京"], "zh")[1] == pytest.approx(2 * 0.5 * 1 / 1.5)


# ------------------------------------------------------------------------------------------------------- ROUGE


def test_rouge_score_readme_example() -> None:
    # rouge-score README: score(target='The quick brown fox jumps over the lazy dog',
    #                         prediction='The quick brown dog jumps on the log.')
    scores = m.rouge_scores(["The quick brown dog jumps on the log."], ["The quick brown fox jumps over the lazy dog"])
    assert scores["rouge1"] == pytest.approx(0.7058823529411765)
    assert scores["rougeL"] == pytest.approx(0.5882352941176471)


def test_rouge_chinese_is_scored_per_character() -> None:
    # 我爱北京 vs 我爱上海: unigrams 2/4 -> 0.5; bigrams {我爱} of 3 -> 1/3; LCS 2 -> 0.5
    scores = m.rouge_scores(["我爱北京"], ["我爱上海"])
    assert scores["rouge1"] == pytest.approx(0.5)
    assert scores["rouge2"] == pytest.approx(1 / 3)
    assert scores["rougeL"] == pytest.approx(0.5)
    # rouge-score's own tokenizer keeps only [a-z0-9]: Chinese would score 0 even for an identical summary
    from rouge_score import rouge_scorer

    assert rouge_scorer.RougeScorer(["rouge1"]).score("我爱北京", "我爱北京")["rouge1"].fmeasure == 0.0
    assert m.rouge_scores(["我爱北京"], ["我爱北京"])["rouge1"] == 1.0


def test_rouge_mixed_chinese_and_latin_tokens() -> None:
    assert m.CharacterTokenizer().tokenize("基于BERT的ＮＥＲ模型, v2") == [
        "基",
        "于",
        "bert",
        "的",
        "ner",
        "模",
        "型",
        "v2",
    ]
    # 基于BERT模型 vs 基于BERT的模型: 5 of 5 / 5 of 6 unigrams
    assert m.rouge_scores(["基于BERT模型"], ["基于BERT的模型"])["rouge1"] == pytest.approx(
        2 * 1 * (5 / 6) / (1 + 5 / 6)
    )


# ------------------------------------------------------------------------------------------------- translation

SACREBLEU_SYS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
SACREBLEU_REFS = [
    ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
    ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
]


def test_sacrebleu_readme_example() -> None:
    # sacreBLEU README: BLEU = 48.53, chrF2 = 59.73 (two reference streams)
    per_example = [list(r) for r in zip(*SACREBLEU_REFS, strict=True)]
    assert m.bleu(SACREBLEU_SYS, per_example) == pytest.approx(48.53, abs=0.005)
    assert m.chrf(SACREBLEU_SYS, per_example) == pytest.approx(59.73, abs=0.005)


def test_chinese_bleu_by_hand() -> None:
    # 6 characters all matching a 7-character reference: precisions 1, BP = exp(1 - 7/6)
    assert m.bleu(["猫坐在垫子上"], ["猫坐在垫子上了"], target_language="zh") == pytest.approx(
        100 * math.exp(1 - 7 / 6)
    )
    assert m.bleu(["我爱北京天安门"], ["我爱北京天安门"], target_language="zh") == pytest.approx(100.0)
    # same as scoring pre-split characters without tokenisation
    hyp, ref = "今天天气很好，我们去公园散步。", "今天天气不错，我们去公园走走。"
    spaced = m.bleu([" ".join(hyp)], [" ".join(ref)], tokenize="none")
    assert m.bleu([hyp], [ref], target_language="zh") == pytest.approx(spaced)
    # with the default 13a tokenizer an unspaced Chinese sentence is one token, so a near miss scores 0
    assert m.bleu(["猫坐在垫子上"], ["猫坐在垫子上了"], target_language="de") == pytest.approx(0.0)


# ------------------------------------------------------------------------------------------------- perplexity


def test_perplexity_of_a_uniform_model() -> None:
    assert m.perplexity(10 * math.log(4), 10) == pytest.approx(4.0)
    with pytest.raises(m.MetricError):
        m.perplexity(1.0, 0)


def test_stride_windows_by_hand() -> None:
    windows = m.stride_windows(10, max_length=4, stride=2)
    assert [(w.begin, w.end, w.target_begin) for w in windows] == [(0, 4, 0), (2, 6, 4), (4, 8, 6), (6, 10, 8)]
    assert sum(w.n_targets for w in windows) == 10
    disjoint = m.stride_windows(10, max_length=4, stride=4)
    assert [(w.begin, w.end, w.n_targets) for w in disjoint] == [(0, 4, 4), (4, 8, 4), (8, 10, 2)]
    assert [(w.begin, w.end) for w in m.stride_windows(3, 1024, 512)] == [(0, 3)]
    with pytest.raises(m.MetricError):
        m.stride_windows(10, 4, 5)


# ------------------------------------------------------------------------------------------------------ speech


def test_wer_jiwer_readme_example() -> None:
    assert m.wer(["hello world"], ["hello duck"]) == 0.5


def test_wer_normalisation_ignores_case_and_punctuation() -> None:
    reference = (
        "And so my fellow Americans ask not what your country can do for you, ask what you can do for your country."
    )
    hypothesis = (
        " and so, my fellow americans: ask not what your country can do for you -- ask what you can do for your country"
    )
    assert m.wer([reference], [hypothesis]) == 0.0
    assert m.wer([reference], [hypothesis], normalize=False) > 0
    assert m.normalize_transcript("Don't STOP, believin'!") == "dont stop believin"
    # one substituted and one deleted word out of 22
    assert m.wer([reference], [reference.replace("fellow", "follow").replace(" not ", " ")]) == pytest.approx(2 / 22)


def test_cer_chinese() -> None:
    reference = "甚至出现交易几乎停滞的情况"
    assert m.cer([reference], ["甚至出现交易几乎停止的情况"]) == pytest.approx(1 / 13)
    assert m.cer([reference], ["甚至 出现 交易 几乎 停滞 的 情况。"]) == 0.0
    assert m.cer(["abc"], ["abd"]) == pytest.approx(1 / 3)
    with pytest.raises(m.MetricError, match="empty"):
        m.wer(["..."], ["x"])


# --------------------------------------------------------------------------------------------------- bootstrap


def test_bootstrap_of_a_constant_is_that_constant() -> None:
    ci = m.bootstrap_ci([1.0] * 50)
    assert (ci.estimate, ci.low, ci.high) == (1.0, 1.0, 1.0)


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    values = np.random.default_rng(1).random(200) < 0.7
    a, b = m.bootstrap_ci(values, seed=3), m.bootstrap_ci(values, seed=3)
    assert a == b
    assert m.bootstrap_ci(values, seed=4) != a
    assert a.low <= a.estimate <= a.high
    assert a.estimate == pytest.approx(values.mean())
    assert m.bootstrap_ci(values, confidence=0.5).high - m.bootstrap_ci(values, confidence=0.5).low < a.high - a.low


def test_bootstrap_agrees_with_scipy_percentile_bootstrap() -> None:
    from scipy import stats

    values = np.random.default_rng(0).normal(0.6, 0.2, size=300)
    ours = m.bootstrap_ci(values, n_resamples=20000, seed=0)
    theirs = stats.bootstrap((values,), np.mean, n_resamples=20000, method="percentile", rng=np.random.default_rng(1))
    assert ours.low == pytest.approx(theirs.confidence_interval.low, abs=0.004)
    assert ours.high == pytest.approx(theirs.confidence_interval.high, abs=0.004)
    # and with the normal-theory interval mean +- 1.96 * s / sqrt(n)
    half = 1.96 * values.std(ddof=1) / math.sqrt(len(values))
    assert ours.low == pytest.approx(values.mean() - half, abs=0.005)


def test_bootstrap_of_corpus_bleu_resamples_examples() -> None:
    hyps = SACREBLEU_SYS * 4
    refs = [r for r in SACREBLEU_REFS[0]] * 4
    ci = m.bootstrap_paired(m.bleu, hyps, refs, n_resamples=200, seed=0)
    assert ci.estimate == pytest.approx(m.bleu(hyps, refs))
    assert ci.low <= ci.estimate <= ci.high
    assert ci.n_examples == 12 and ci.to_dict()["method"] == "percentile"
    with pytest.raises(m.MetricError, match="different lengths"):
        m.bootstrap_paired(m.bleu, hyps, refs[:-1])
