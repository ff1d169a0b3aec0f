"""Summarization (ROUGE-1/2/L F-measure; per character for Chinese) and translation (sacreBLEU BLEU and chrF;
tokenize="zh" for Chinese targets) with encoder-decoder models: greedy decoding (num_beams=1, no sampling),
at most --max-new-tokens new tokens, inputs batched by length. A task prefix is added when the model's config
names one (T5: "summarize: ", "translate English to German: "). Stored BLEU/chrF are sacreBLEU's score / 100, so
every higher-is-better metric is a fraction. Corpus BLEU/chrF intervals use 200 bootstrap resamples (each
recomputes the corpus score)."""

from __future__ import annotations

from typing import Any

from bench.metrics import bleu, chrf, rouge_scores
from bench.tasks.common import (
    EvalOutcome,
    EvaluationError,
    Stopwatch,
    length_batches,
    load_tokenizer,
    max_input_length,
    mean_ci,
    pad_features,
    pad_id_of,
    statistic_ci,
)

CORPUS_RESAMPLES = 200
LANGUAGE_NAMES = {"en": "English", "de": "German", "zh": "Chinese", "fr": "French", "ro": "Romanian"}


def task_prefix(config: dict[str, Any], key: str) -> str:
    params = config.get("task_specific_params") or {}
    entry = params.get(key) or {}
    return str(entry.get("prefix") or "")


def generate(backend: Any, sources: list[str], spec: Any, watch: Stopwatch) -> tuple[list[str], int]:
    import torch

    if not backend.config.get("is_encoder_decoder"):
        raise EvaluationError(
            "Summarization/translation scoring runs encoder-decoder models (T5, BART, Marian ...); this model is "
            "decoder-only. Score it with --task text-generation --eval wikitext2 (perplexity) instead."
        )
    tokenizer = load_tokenizer(backend)
    limit = min(spec.max_length or 512, max_input_length(backend, tokenizer))
    outputs = [""] * len(sources)
    start_id = backend.config.get("decoder_start_token_id")
    if start_id is None:
        start_id = backend.config.get("pad_token_id") or 0
    with watch:
        encoded = tokenizer(sources, truncation=True, max_length=limit)
        features = [{k: encoded[k][i] for k in encoded} for i in range(len(sources))]
        lengths = [len(f["input_ids"]) for f in features]
        pad = pad_id_of(tokenizer)
        for indexes in length_batches(lengths, spec.batch_size):
            batch = pad_features([features[i] for i in indexes], pad, backend.device)
            batch.pop("token_type_ids", None)
            with torch.inference_mode():
                generated = backend.model.generate(
                    **batch, max_new_tokens=spec.max_new_tokens, num_beams=1, do_sample=False,
                    decoder_start_token_id=int(start_id), pad_token_id=pad,
                )  # fmt: skip
            for i, text in zip(indexes, tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True):
                outputs[i] = text.strip()
    return outputs, max(lengths)


def evaluate_summarization(backend: Any, evalset: Any, spec: Any) -> EvalOutcome:
    examples = list(evalset.examples)
    if not examples or not hasattr(examples[0], "document"):
        raise EvaluationError(f"{evalset.name} is not a summarization set.")
    prefix = task_prefix(backend.config, "summarization")
    watch = Stopwatch(backend.device)
    predictions, longest = generate(backend, [prefix + e.document for e in examples], spec, watch)
    scores = rouge_scores(predictions, [e.reference for e in examples], language=evalset.spec.language or None)
    names = {"rouge1": "rouge-1", "rouge2": "rouge-2", "rougeL": "rouge-l"}
    return EvalOutcome(
        primary_metric="rouge-l",
        metrics={names[k]: float(scores[k]) for k in names},
        ci95={names[k]: mean_ci(scores["per_example"][k], spec.n_resamples, spec.seed) for k in names},
        n_examples=len(examples),
        seconds=watch.seconds,
        max_seq_len=longest,
        note=f"greedy, at most {spec.max_new_tokens} new tokens"
        + ("; scored per character" if (evalset.spec.language or "").startswith("zh") else ""),
        predictions=predictions,
    )


def evaluate_translation(backend: Any, evalset: Any, spec: Any) -> EvalOutcome:
    examples = list(evalset.examples)
    if not examples or not hasattr(examples[0], "source"):
        raise EvaluationError(f"{evalset.name} is not a translation set.")
    options = evalset.spec.options or {}
    pair = (evalset.spec.language or "").split("-")
    source_language = options.get("source_language") or (pair[0] if len(pair) == 2 else "")
    target = options.get("target_language") or (pair[1] if len(pair) == 2 else None)
    prefix = task_prefix(backend.config, f"translation_{source_language}_to_{target}")
    watch = Stopwatch(backend.device)
    predictions, longest = generate(backend, [prefix + e.source for e in examples], spec, watch)
    references = [e.reference for e in examples]
    value_bleu = bleu(predictions, references, target_language=target) / 100
    value_chrf = chrf(predictions, references) / 100
    resamples = min(spec.n_resamples, CORPUS_RESAMPLES)

    def bleu_of(indices: Any) -> float:
        return bleu([predictions[i] for i in indices], [references[i] for i in indices], target_language=target) / 100

    def chrf_of(indices: Any) -> float:
        return chrf([predictions[i] for i in indices], [references[i] for i in indices]) / 100

    return EvalOutcome(
        primary_metric="bleu",
        metrics={"bleu": value_bleu, "chrf": value_chrf},
        ci95={
            "bleu": statistic_ci(bleu_of, len(examples), resamples, spec.seed),
            "chrf": statistic_ci(chrf_of, len(examples), resamples, spec.seed),
        },
        n_examples=len(examples),
        seconds=watch.seconds,
        max_seq_len=longest,
        note=f"greedy, at most {spec.max_new_tokens} new tokens; sacreBLEU / 100; target {target or '?'}",
        predictions=predictions,
    )
