"""Metrics for accuracy benchmarks, computed with the libraries made for each job.

Scales: accuracy, F1, exact match, ROUGE, WER/CER and top-k accuracy are fractions in [0, 1]; BLEU and chrF are
on sacreBLEU's 0-100 scale, as they are always reported; perplexity is a positive number (lower is better).

- classification: accuracy and macro-F1 (scikit-learn), label mapping from a model's label names to a dataset's
- NER: seqeval entity-level precision / recall / F1 on IOB2 tags, entity-type mapping (PERSON -> PER ...)
- QA: SQuAD v1.1 exact match / F1 (the official normalisation); Chinese follows the CMRC 2018 script
- summarization: ROUGE-1/2/L F-measure (rouge-score), CJK text scored per character
- translation: sacreBLEU BLEU and chrF (tokenize="zh" for Chinese targets)
- language modelling: perplexity from summed negative log-likelihood, the strided-window plan
- images: top-1 / top-5 accuracy; speech: WER / CER (jiwer) after a documented normalisation
- a seeded percentile bootstrap confidence interval for any of them
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from catalog.errors import CatalogError


class MetricError(CatalogError):
    """Inputs a metric cannot score (lengths differ, nothing to score ...)."""


class LabelMappingError(MetricError):
    """A model's labels cannot be matched to the dataset's labels by name."""


def _same_length(a: Sequence[Any], b: Sequence[Any], what: str) -> None:
    if len(a) != len(b):
        raise MetricError(f"{what}: {len(a)} references but {len(b)} predictions; they must pair up one to one.")
    if not a:
        raise MetricError(f"{what}: nothing to score (no examples).")


# ------------------------------------------------------------------------------------------------ classification


def accuracy(references: Sequence[Any], predictions: Sequence[Any]) -> float:
    from sklearn.metrics import accuracy_score

    _same_length(references, predictions, "accuracy")
    return float(accuracy_score(list(references), list(predictions)))


def macro_f1(references: Sequence[Any], predictions: Sequence[Any], labels: Sequence[Any] | None = None) -> float:
    """Unweighted mean of per-class F1 over `labels` (default: every class in the references). A prediction outside
    the labels (e.g. -1 for an unmapped model label) counts as a miss of the true class."""
    from sklearn.metrics import f1_score

    _same_length(references, predictions, "macro-F1")
    labels = list(labels) if labels is not None else sorted(set(references))
    return float(f1_score(list(references), list(predictions), labels=labels, average="macro", zero_division=0))


def classification_scores(
    references: Sequence[Any], predictions: Sequence[Any], labels: Sequence[Any] | None = None
) -> dict[str, float]:
    return {"accuracy": accuracy(references, predictions), "macro_f1": macro_f1(references, predictions, labels)}


def top_k_accuracy(references: Sequence[int], ranked: Sequence[Sequence[int]] | Any, k: int = 1) -> float:
    """Fraction of examples whose true label is among the first k predictions.

    `ranked` is either per-example label lists, best first, or an (n, n_classes) numpy float score matrix (higher =
    more likely; then scikit-learn's top_k_accuracy_score is used)."""
    import numpy as np

    _same_length(references, ranked, f"top-{k} accuracy")
    if k < 1:
        raise MetricError(f"top-k accuracy needs k >= 1, not {k}.")
    if getattr(ranked, "ndim", None) == 2 and np.asarray(ranked).dtype.kind == "f":
        from sklearn.metrics import top_k_accuracy_score

        n_classes = np.asarray(ranked).shape[1]
        return float(top_k_accuracy_score(list(references), ranked, k=min(k, n_classes), labels=range(n_classes)))
    hits = sum(1 for truth, row in zip(references, ranked, strict=True) if truth in list(row)[:k])
    return hits / len(references)


# Synonyms that name the same class. Keys and values are compared case- and punctuation-insensitively.
LABEL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "negative": ("neg", "negative", "bad", "0 negative", "负面", "消极", "差评", "负"),
    "positive": ("pos", "positive", "good", "1 positive", "正面", "积极", "好评", "正"),
    "neutral": ("neu", "neutral", "中性", "中立"),
}
_STARS = re.compile(r"^([1-5])\s*stars?$")


def _norm_label(label: str) -> str:
    return re.sub(r"[\s_\-]+", " ", str(label).strip().lower())


def _canonical(label: str) -> str | None:
    norm = _norm_label(label)
    for canonical, spellings in LABEL_SYNONYMS.items():
        if norm in spellings:
            return canonical
    return None


@dataclass(frozen=True)
class LabelMapping:
    """How a model's label names map to a dataset's label indexes, and how that was decided."""

    mapping: dict[str, int]  # model label -> dataset label index
    dataset_labels: tuple[str, ...]
    method: str  # name | synonym | index | stars
    unmapped: tuple[str, ...] = ()  # model labels that count as wrong when predicted (e.g. "3 stars" for binary)

    def __call__(self, model_label: str) -> int:
        """The dataset label index for a predicted model label; -1 (always wrong) for an abstaining label."""
        if model_label in self.mapping:
            return self.mapping[model_label]
        if model_label in self.unmapped:
            return -1
        raise LabelMappingError(
            f"The model predicted {model_label!r}, which is not among the labels it declared "
            f"({sorted(self.mapping) + list(self.unmapped)})."
        )

    def map_all(self, model_labels: Sequence[str]) -> list[int]:
        return [self(label) for label in model_labels]


def map_labels(model_labels: Sequence[str], dataset_labels: Sequence[str]) -> LabelMapping:
    """Match a classifier's label names (its config.id2label) to the dataset's label names.

    Tried in order: the same name (case/spacing-insensitive); synonyms (POSITIVE/pos/正面 -> positive, NEGATIVE/neg
    -> negative); star ratings ("1 star".."5 stars": 1-2 -> negative, 4-5 -> positive, 3 -> neutral when the
    dataset has it, else an abstention that is always scored wrong); LABEL_k -> dataset label k, only when the model
    has exactly as many labels as the dataset (the usual fine-tuning convention, flagged as method="index").
    Refuses with LabelMappingError when a dataset label would have no model label mapped to it, or a model label
    maps nowhere, rather than produce a meaningless score."""
    dataset = tuple(str(label) for label in dataset_labels)
    models = [str(label) for label in model_labels]
    if not models or not dataset:
        raise LabelMappingError("Label mapping needs the model's labels and the dataset's labels; one list is empty.")
    by_norm = {_norm_label(d): i for i, d in enumerate(dataset)}
    by_canonical = {c: i for i, d in enumerate(dataset) if (c := _canonical(d)) is not None}

    def complete(mapping: dict[str, int], method: str, unmapped: tuple[str, ...] = ()) -> LabelMapping | None:
        if len(mapping) + len(unmapped) == len(models) and set(mapping.values()) == set(range(len(dataset))):
            return LabelMapping(mapping, dataset, method, unmapped)
        return None

    # 1. Same names, 2. synonyms.
    direct = {m: by_norm[_norm_label(m)] for m in models if _norm_label(m) in by_norm}
    if result := complete(direct, "name"):
        return result
    synonym = dict(direct)
    for m in models:
        if m not in synonym and (c := _canonical(m)) in by_canonical:
            synonym[m] = by_canonical[c]
    if result := complete(synonym, "synonym"):
        return result
    # 3. Star ratings.
    stars = {m: int(match.group(1)) for m in models if (match := _STARS.match(_norm_label(m)))}
    if stars and len(stars) == len(models):
        star_map: dict[str, int] = {}
        abstain: list[str] = []
        for m, n in stars.items():
            if _norm_label(m) in by_norm:  # the dataset itself is in stars
                star_map[m] = by_norm[_norm_label(m)]
            elif n in (1, 2) and "negative" in by_canonical:
                star_map[m] = by_canonical["negative"]
            elif n in (4, 5) and "positive" in by_canonical:
                star_map[m] = by_canonical["positive"]
            elif n == 3 and "neutral" in by_canonical:
                star_map[m] = by_canonical["neutral"]
            elif n == 3:
                abstain.append(m)
        if result := complete(star_map, "stars", tuple(abstain)):
            return result
    # 4. LABEL_k by position.
    generic = {m: int(match.group(1)) for m in models if (match := re.fullmatch(r"LABEL_(\d+)", m.strip(), re.I))}
    if (
        len(generic) == len(models)
        and len(models) == len(dataset)
        and set(generic.values()) == set(range(len(dataset)))
    ):
        return LabelMapping(generic, dataset, "index")
    unmatched = [m for m in models if m not in synonym]
    missing = [d for i, d in enumerate(dataset) if i not in set(synonym.values())]
    raise LabelMappingError(
        f"Cannot map the model's labels {models} to the dataset's labels {list(dataset)} by name"
        + (f" (no match for {unmatched}" if unmatched else " (")
        + (f"; nothing predicts {missing}" if missing else "")
        + "). Pick a model fine-tuned for this label set, or pass an explicit mapping."
    )


# ----------------------------------------------------------------------------------------------------------- NER

ENTITY_TYPE_ALIASES: dict[str, str] = {
    "PER": "PER",
    "PERSON": "PER",
    "PERS": "PER",
    "ORG": "ORG",
    "ORGANIZATION": "ORG",
    "ORGANISATION": "ORG",
    "LOC": "LOC",
    "LOCATION": "LOC",
    "GPE": "LOC",
    "MISC": "MISC",
    "MISCELLANEOUS": "MISC",
}


def map_entity_tags(
    tags: Sequence[str], dataset_types: Sequence[str], aliases: Mapping[str, str] = ENTITY_TYPE_ALIASES
) -> list[str]:
    """Rename a model's entity types to the dataset's (PERSON -> PER, ORGANIZATION -> ORG, LOCATION/GPE -> LOC) and
    turn types the dataset does not annotate (MISC for Universal NER, DATE ...) into O, so they are neither credited
    nor penalised as a wrong type. Prefixes (B-/I-/E-/S-) are kept."""
    keep = {t.upper() for t in dataset_types}
    out = []
    for tag in tags:
        if tag.upper() == "O":
            out.append("O")
            continue
        if "-" not in tag:  # IO-style bare type: treat as the start of an entity
            tag = f"B-{tag}"
        prefix, kind = tag.split("-", 1)
        kind = aliases.get(kind.upper(), kind.upper())
        out.append(f"{prefix.upper()}-{kind}" if kind in keep else "O")
    return out


def seqeval_scores(
    references: Sequence[Sequence[str]], predictions: Sequence[Sequence[str]], *, strict: bool = False
) -> dict[str, Any]:
    """Entity-level micro precision / recall / F1 and per-type scores with seqeval.

    Default: seqeval's conlleval-compatible mode (what papers and HF `evaluate` report). strict=True uses
    mode="strict" with the IOB2 scheme, where an entity must start with B- to count."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    _same_length(references, predictions, "seqeval")
    for i, (ref, pred) in enumerate(zip(references, predictions, strict=True)):
        if len(ref) != len(pred):
            raise MetricError(f"seqeval: sentence {i} has {len(ref)} reference tags but {len(pred)} predicted.")
    kwargs: dict[str, Any] = {}
    if strict:
        from seqeval.scheme import IOB2

        kwargs = {"mode": "strict", "scheme": IOB2}
    refs, preds = [list(r) for r in references], [list(p) for p in predictions]
    report = classification_report(refs, preds, output_dict=True, zero_division=0, **kwargs)
    per_type = {
        k: {
            "precision": float(v["precision"]),
            "recall": float(v["recall"]),
            "f1": float(v["f1-score"]),
            "support": int(v["support"]),
        }
        for k, v in report.items()
        if not k.endswith("avg")
    }
    return {
        "precision": float(precision_score(refs, preds, zero_division=0, **kwargs)),
        "recall": float(recall_score(refs, preds, zero_division=0, **kwargs)),
        "f1": float(f1_score(refs, preds, zero_division=0, **kwargs)),
        "per_type": per_type,
    }


# ------------------------------------------------------------------------------------------------------------ QA


def normalize_answer(text: str) -> str:
    """The official SQuAD v1.1 normalisation: lower case, drop punctuation and English articles, squeeze spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def squad_exact_match(prediction: str, gold_answers: Sequence[str]) -> float:
    return float(max(normalize_answer(prediction) == normalize_answer(g) for g in gold_answers))


def _token_f1(prediction_tokens: Sequence[str], gold_tokens: Sequence[str]) -> float:
    common = Counter(prediction_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(prediction_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_f1(prediction: str, gold_answers: Sequence[str]) -> float:
    pred = normalize_answer(prediction).split()
    return max(_token_f1(pred, normalize_answer(g).split()) for g in gold_answers)


# CMRC 2018 (ymcui/cmrc2018 squad-style-data/cmrc2018_evaluate.py): Chinese characters and these punctuation marks
# are single tokens, other runs are word-tokenised with NLTK; F1 is over the longest common substring of tokens.
_CMRC_PUNCT = set("-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』") | {"……"}
_CJK = re.compile(r"[\u4e00-\u9fa5]")


def _nltk_words(text: str) -> list[str]:
    # NLTK's word tokenizer without its punkt sentence splitter (no data download; answers are single phrases).
    from nltk.tokenize import NLTKWordTokenizer

    return list(NLTKWordTokenizer().tokenize(text))


def cmrc_segment(text: str, remove_punctuation: bool = False) -> list[str]:
    text = str(text).lower().strip()
    segments: list[str] = []
    pending = ""
    for char in text:
        if remove_punctuation and char in _CMRC_PUNCT:
            continue
        if _CJK.search(char) or char in _CMRC_PUNCT:
            if pending:
                segments.extend(_nltk_words(pending))
                pending = ""
            segments.append(char)
        else:
            pending += char
    if pending:
        segments.extend(_nltk_words(pending))
    return segments


def _cmrc_remove_punctuation(text: str) -> str:
    return "".join(ch for ch in str(text).lower().strip() if ch not in _CMRC_PUNCT)


def _longest_common_substring(a: Sequence[str], b: Sequence[str]) -> int:
    best = 0
    previous = [0] * (len(b) + 1)
    for i in range(len(a)):
        current = [0] * (len(b) + 1)
        for j in range(len(b)):
            if a[i] == b[j]:
                current[j + 1] = previous[j] + 1
                best = max(best, current[j + 1])
        previous = current
    return best


def cmrc_exact_match(prediction: str, gold_answers: Sequence[str]) -> float:
    pred = _cmrc_remove_punctuation(prediction)
    return float(any(_cmrc_remove_punctuation(g) == pred for g in gold_answers))


def cmrc_f1(prediction: str, gold_answers: Sequence[str]) -> float:
    pred = cmrc_segment(prediction, remove_punctuation=True)
    scores = []
    for gold in gold_answers:
        ref = cmrc_segment(gold, remove_punctuation=True)
        common = _longest_common_substring(ref, pred)
        if common == 0:
            scores.append(0.0)
            continue
        precision, recall = common / len(pred), common / len(ref)
        scores.append(2 * precision * recall / (precision + recall))
    return max(scores)


def qa_example_scores(prediction: str, gold_answers: Sequence[str], language: str = "en") -> tuple[float, float]:
    """(exact match, F1) for one question: SQuAD rules, or the CMRC 2018 rules when language is Chinese."""
    if not gold_answers:
        raise MetricError("A question without gold answers cannot be scored (SQuAD v2 no-answer is not supported).")
    if language.lower().startswith("zh"):
        return cmrc_exact_match(prediction, gold_answers), cmrc_f1(prediction, gold_answers)
    return squad_exact_match(prediction, gold_answers), squad_f1(prediction, gold_answers)


def squad_scores(
    predictions: Sequence[str], references: Sequence[Sequence[str]], language: str = "en"
) -> dict[str, Any]:
    """Mean exact match and F1 over questions (fractions), with the per-question values for bootstrapping."""
    _same_length(references, predictions, "SQuAD")
    pairs = [qa_example_scores(p, g, language) for p, g in zip(predictions, references, strict=True)]
    em = [e for e, _ in pairs]
    f1 = [f for _, f in pairs]
    return {"exact_match": sum(em) / len(em), "f1": sum(f1) / len(f1), "per_example": {"exact_match": em, "f1": f1}}


# ------------------------------------------------------------------------------------------------------- ROUGE


_CJK_CHAR = (
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
    r"\U00020000-\U0002a6df\U0002a700-\U0002ebef]"
)
_ROUGE_TOKEN = re.compile(rf"{_CJK_CHAR}|(?:(?!{_CJK_CHAR})[^\W_])+", re.UNICODE)


class CharacterTokenizer:
    """rouge-score tokenizer that keeps non-ASCII text: every CJK character is a token, other letters and digits
    form lower-cased word tokens. (rouge-score's default tokenizer keeps only [a-z0-9], so Chinese text would score
    0 against anything.)"""

    def tokenize(self, text: str) -> list[str]:
        return _ROUGE_TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


def has_cjk(text: str) -> bool:
    return re.search(_CJK_CHAR, text) is not None


def rouge_scores(
    predictions: Sequence[str],
    references: Sequence[str],
    *,
    language: str | None = None,
    use_stemmer: bool = False,
) -> dict[str, Any]:
    """Mean ROUGE-1/2/L F-measure over examples (fractions), with per-example values.

    Chinese/Japanese/Korean (language zh/ja/ko, or detected in the references) is scored per character with
    CharacterTokenizer; otherwise rouge-score's default English tokenizer (optionally Porter-stemmed)."""
    from rouge_score import rouge_scorer

    _same_length(references, predictions, "ROUGE")
    cjk = language.lower()[:2] in ("zh", "ja", "ko") if language else any(has_cjk(r) for r in references)
    kinds = ["rouge1", "rouge2", "rougeL"]
    if cjk:
        scorer = rouge_scorer.RougeScorer(kinds, tokenizer=CharacterTokenizer())
    else:
        scorer = rouge_scorer.RougeScorer(kinds, use_stemmer=use_stemmer)
    per: dict[str, list[float]] = {k: [] for k in kinds}
    for pred, ref in zip(predictions, references, strict=True):
        scores = scorer.score(ref, pred)  # (target, prediction)
        for k in kinds:
            per[k].append(scores[k].fmeasure)
    result: dict[str, Any] = {k: sum(v) / len(v) for k, v in per.items()}
    result["per_example"] = per
    return result


# ------------------------------------------------------------------------------------------------- translation


def _reference_streams(references: Sequence[str] | Sequence[Sequence[str]]) -> list[list[str]]:
    """Per-example references (a string, or several) -> sacreBLEU's reference streams."""
    per_example = [[r] if isinstance(r, str) else list(r) for r in references]
    width = max(len(r) for r in per_example)
    if any(len(r) != width for r in per_example):
        raise MetricError("Every example needs the same number of references for sacreBLEU.")
    return [[r[i] for r in per_example] for i in range(width)]


def bleu_tokenizer(target_language: str | None) -> str:
    lang = (target_language or "").lower()
    if lang.startswith("zh"):
        return "zh"
    if lang.startswith("ja"):
        return "ja-mecab"
    if lang.startswith("ko"):
        return "ko-mecab"
    return "13a"


def bleu(
    predictions: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    target_language: str | None = None,
    tokenize: str | None = None,
) -> float:
    """Corpus BLEU (0-100) with sacreBLEU defaults; tokenize="zh" for Chinese targets, "13a" otherwise."""
    import sacrebleu

    _same_length(references, predictions, "BLEU")
    tok = tokenize or bleu_tokenizer(target_language)
    return float(sacrebleu.corpus_bleu(list(predictions), _reference_streams(references), tokenize=tok).score)


def chrf(predictions: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]]) -> float:
    """Corpus chrF (0-100, character n-grams, beta 2) with sacreBLEU defaults; needs no tokenisation."""
    import sacrebleu

    _same_length(references, predictions, "chrF")
    return float(sacrebleu.corpus_chrf(list(predictions), _reference_streams(references)).score)


def translation_scores(
    predictions: Sequence[str], references: Sequence[str], target_language: str | None = None
) -> dict[str, float]:
    return {
        "bleu": bleu(predictions, references, target_language=target_language),
        "chrf": chrf(predictions, references),
    }


# ------------------------------------------------------------------------------------------------- perplexity


def perplexity(nll_sum: float, token_count: int) -> float:
    """exp(total negative log-likelihood in nats / number of predicted tokens)."""
    if token_count <= 0:
        raise MetricError("Perplexity needs at least one scored token.")
    return math.exp(nll_sum / token_count)


@dataclass(frozen=True)
class Window:
    begin: int  # first input token of the window
    end: int  # one past the last input token
    target_begin: int  # tokens [target_begin, end) are scored in this window; earlier ones are context only

    @property
    def n_targets(self) -> int:
        return self.end - self.target_begin


def stride_windows(n_tokens: int, max_length: int, stride: int) -> list[Window]:
    """The sliding-window plan of the Hugging Face perplexity guide (perplexity of fixed-length models).

    Windows start every `stride` tokens: begin = 0, stride, 2*stride, ...; end = min(begin + max_length, n_tokens);
    each window scores only the tokens not scored before, target_begin = previous end (so every token is scored
    exactly once, with up to max_length - stride tokens of context), and the plan stops once a window reaches the
    end. stride == max_length gives disjoint chunks. With a causal LM the first token of the text has no
    prediction, so the scored count is sum(n_targets) - 1 when labels are shifted inside the model.
    Perplexity = exp(sum of per-window NLL sums / total scored tokens)."""
    if n_tokens <= 0 or max_length <= 0 or not 0 < stride <= max_length:
        raise MetricError(
            f"stride_windows needs n_tokens > 0 and 0 < stride <= max_length (got {n_tokens}, {max_length}, {stride})."
        )
    windows: list[Window] = []
    previous_end = 0
    for begin in range(0, n_tokens, stride):
        end = min(begin + max_length, n_tokens)
        windows.append(Window(begin, end, previous_end))
        previous_end = end
        if end == n_tokens:
            break
    return windows


# ------------------------------------------------------------------------------------------------------ speech

_SPACES = re.compile(r"\s+")


def normalize_transcript(text: str) -> str:
    """Lower case, punctuation and symbols (Unicode categories P* and S*) replaced by spaces, except an apostrophe
    inside a word, which is dropped (don't -> dont), NFKC width folding, and whitespace squeezed. Applied to both
    reference and hypothesis before WER/CER, so 'Americans,' and 'americans' match."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"(?<=\w)['’](?=\w)", "", text)
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    return _SPACES.sub(" ", text).strip()


def _prepared(references: Sequence[str], predictions: Sequence[str], normalize: bool) -> tuple[list[str], list[str]]:
    _same_length(references, predictions, "WER/CER")
    refs = [normalize_transcript(r) if normalize else r for r in references]
    hyps = [normalize_transcript(p) if normalize else p for p in predictions]
    if any(not r.strip() for r in refs):
        raise MetricError("WER/CER: a reference transcript is empty (after normalisation); it cannot be scored.")
    return refs, hyps


def wer(references: Sequence[str], predictions: Sequence[str], *, normalize: bool = True) -> float:
    """Corpus word error rate (jiwer): (substitutions + deletions + insertions) / reference words."""
    import jiwer

    refs, hyps = _prepared(references, predictions, normalize)
    return float(jiwer.wer(refs, hyps))


def cer(
    references: Sequence[str], predictions: Sequence[str], *, normalize: bool = True, ignore_spaces: bool | None = None
) -> float:
    """Corpus character error rate (jiwer). Spaces are removed first for CJK text (ignore_spaces=None detects it),
    where they carry no meaning and a model may insert them between characters."""
    import jiwer

    refs, hyps = _prepared(references, predictions, normalize)
    if ignore_spaces is None:
        ignore_spaces = any(has_cjk(r) for r in refs)
    if ignore_spaces:
        refs = [r.replace(" ", "") for r in refs]
        hyps = [h.replace(" ", "") for h in hyps]
    return float(jiwer.cer(refs, hyps))


# --------------------------------------------------------------------------------------------------- bootstrap


@dataclass(frozen=True)
class ConfidenceInterval:
    estimate: float  # the metric on all examples
    low: float
    high: float
    confidence: float = 0.95
    n_resamples: int = 1000
    method: str = "percentile"
    seed: int = 0
    n_examples: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "n_resamples": self.n_resamples,
            "method": self.method,
            "seed": self.seed,
            "n_examples": self.n_examples,
        }


def _indices(n: int, n_resamples: int, seed: int) -> Any:
    import numpy as np

    if n <= 0:
        raise MetricError("A bootstrap needs at least one example.")
    if n_resamples < 1:
        raise MetricError(f"A bootstrap needs at least one resample, not {n_resamples}.")
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def _percentiles(values: Any, confidence: float) -> tuple[float, float]:
    import numpy as np

    if not 0 < confidence < 1:
        raise MetricError(f"confidence must be between 0 and 1 (e.g. 0.95), not {confidence}.")
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def bootstrap_ci(
    per_example: Sequence[float] | Any,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Percentile bootstrap CI of a mean of per-example scores (accuracy as 0/1 hits, EM, F1, ...), vectorised:
    one (n_resamples, n) index matrix, one mean per row."""
    import numpy as np

    values = np.asarray(per_example, dtype=float)
    idx = _indices(len(values), n_resamples, seed)
    means = values[idx].mean(axis=1)
    low, high = _percentiles(means, confidence)
    return ConfidenceInterval(float(values.mean()), low, high, confidence, n_resamples, "percentile", seed, len(values))


def bootstrap_ci_statistic(
    statistic: Callable[[Any], float],
    n_examples: int,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Percentile bootstrap CI of any metric computed over examples (corpus BLEU, macro-F1, seqeval F1 ...):
    `statistic(indices)` recomputes the metric on the examples at those indices (a numpy int array; repeats are
    the point of resampling). The estimate is statistic(all indices)."""
    import numpy as np

    idx = _indices(n_examples, n_resamples, seed)
    values = np.array([statistic(row) for row in idx], dtype=float)
    low, high = _percentiles(values, confidence)
    estimate = float(statistic(np.arange(n_examples)))
    return ConfidenceInterval(estimate, low, high, confidence, n_resamples, "percentile", seed, n_examples)


def bootstrap_paired(
    metric: Callable[..., float],
    *columns: Sequence[Any],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Convenience over bootstrap_ci_statistic: resample aligned columns (predictions, references ...) together and
    call metric(*resampled_columns), e.g. bootstrap_paired(bleu, hypotheses, references)."""
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
        raise MetricError(f"bootstrap: the columns have different lengths {sorted(lengths)}.")
    n = lengths.pop()

    def statistic(indices: Any) -> float:
        return metric(*([column[i] for i in indices] for column in columns))

    return bootstrap_ci_statistic(statistic, n, n_resamples=n_resamples, confidence=confidence, seed=seed)
