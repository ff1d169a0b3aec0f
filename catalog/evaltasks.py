"""The kinds of labelled data an evaluation set holds (its `task`), in one place: bench.evalsets checks manifests
and --eval-file against it, and `catalog bench evalsets --task` accepts it without importing bench (the CLI's
start-up stays free of torch, transformers and bench). Runners for other tasks read one of these kinds
(bench.tasks.DATA_TASKS: fill-mask reads text-classification or text-generation data, for example)."""

from __future__ import annotations

EVALSET_TASKS: tuple[str, ...] = (
    "text-classification",
    "token-classification",
    "question-answering",
    "summarization",
    "translation",
    "text-generation",
    "feature-extraction",
    "image-classification",
    "automatic-speech-recognition",
    "audio-classification",
)
