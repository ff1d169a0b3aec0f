"""Task runners: how to run a model on an evaluation set and which metric scores it, one module per task family,
behind a lazy registry (name -> "module:attr", imported only when used).

A runner is `evaluate(backend, evalset, spec) -> EvalOutcome`: backend is the loaded TransformersBackend (model,
config, device, dtype, job), evalset a bench.evalsets.EvalSet, spec the bench.spec.EvalSpec. It runs in the
model's worker process, right after the latency shapes.

Headline metrics (`primary_metric`, read by the recommender) use the names of catalog.yaml's reported metrics.
"""

from __future__ import annotations

import importlib
from typing import Any

from catalog.errors import UnknownNameError

TASK_RUNNERS: dict[str, str] = {
    "text-classification": "bench.tasks.classification:evaluate",
    "token-classification": "bench.tasks.token_classification:evaluate",
    "question-answering": "bench.tasks.question_answering:evaluate",
    "summarization": "bench.tasks.generation:evaluate_summarization",
    "translation": "bench.tasks.generation:evaluate_translation",
    "text-generation": "bench.tasks.language_modeling:evaluate_perplexity",
    "fill-mask": "bench.tasks.language_modeling:evaluate_fill_mask",
    "feature-extraction": "bench.tasks.embeddings:evaluate",
    "sentence-similarity": "bench.tasks.embeddings:evaluate",
    "zero-shot-classification": "bench.tasks.zero_shot:evaluate",
    "image-classification": "bench.tasks.vision:evaluate",
    "automatic-speech-recognition": "bench.tasks.speech:evaluate_asr",
    "audio-classification": "bench.tasks.speech:evaluate_audio_classification",
}

# Which kind of labelled data each runner reads (an evaluation set's task, or one of its also_tasks).
DATA_TASKS: dict[str, tuple[str, ...]] = {
    "text-classification": ("text-classification",),
    "token-classification": ("token-classification",),
    "question-answering": ("question-answering",),
    "summarization": ("summarization",),
    "translation": ("translation",),
    "text-generation": ("text-generation",),
    "fill-mask": ("text-classification", "text-generation"),
    "feature-extraction": ("text-classification", "feature-extraction"),
    "sentence-similarity": ("text-classification", "feature-extraction"),
    "zero-shot-classification": ("text-classification",),
    "image-classification": ("image-classification",),
    "automatic-speech-recognition": ("automatic-speech-recognition",),
    "audio-classification": ("audio-classification",),
}

PRIMARY_METRICS: dict[str, str] = {
    "text-classification": "accuracy",
    "token-classification": "seqeval-f1",
    "question-answering": "squad-f1",
    "summarization": "rouge-l",
    "translation": "bleu",
    "text-generation": "perplexity",
    "fill-mask": "top-1-accuracy",
    "feature-extraction": "linear-probe-accuracy",
    "sentence-similarity": "linear-probe-accuracy",
    "zero-shot-classification": "accuracy",
    "image-classification": "top-1-accuracy",
    "automatic-speech-recognition": "wer",  # "cer" for Chinese, Japanese, Korean, Thai sets
    "audio-classification": "accuracy",
}


class UnknownTaskRunnerError(UnknownNameError):
    kind = "task with an accuracy evaluation"
    listing = "Tasks that can be evaluated: " + ", ".join(sorted(TASK_RUNNERS)) + "."


def get_runner(task: str) -> Any:
    """The evaluate function for `task`; unknown tasks get suggestions."""
    if task not in TASK_RUNNERS:
        raise UnknownTaskRunnerError(task, TASK_RUNNERS)
    module, _, attr = TASK_RUNNERS[task].partition(":")
    return getattr(importlib.import_module(module), attr)


def data_task_for(task: str, available: tuple[str, ...]) -> str:
    """The data task a runner for `task` reads from a set that offers `available` tasks; refuses a mismatch."""
    from bench.tasks.common import EvaluationError

    if task not in DATA_TASKS:
        raise UnknownTaskRunnerError(task, TASK_RUNNERS)
    for wanted in DATA_TASKS[task]:
        if wanted in available:
            return wanted
    raise EvaluationError(
        f"A {task} model cannot be scored on a {'/'.join(available)} set: it needs "
        f"{' or '.join(DATA_TASKS[task])} data. Run `catalog bench evalsets --task {DATA_TASKS[task][0]}`."
    )
