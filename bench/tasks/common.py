"""What every task runner shares: the outcome record, the tokenizer, length-bucketed batches with dynamic
padding, a wall-clock for the evaluation itself, and seeded bootstrap intervals."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.metrics import bootstrap_ci, bootstrap_ci_statistic
from catalog.errors import CatalogError

# Byte-level BPE tokenizers need add_prefix_space=True to take pre-split words (token classification).
PREFIX_SPACE_TYPES = {"roberta", "longformer", "bart", "gpt2", "deberta", "mpnet", "camembert"}


class EvaluationError(CatalogError):
    """A model cannot be evaluated on a set as asked (no tokenizer, labels that do not match, wrong task ...)."""


@dataclass
class EvalOutcome:
    """What a task runner measured: metric values (fractions, except perplexity), their 95% intervals, and how
    fast the evaluation ran. `seconds` (hence examples/s) is the evaluation loop on the loaded model: tokenising,
    per-run preparation such as packing weights, the forward passes and turning outputs into predictions; not
    reading the set (the parent does that before the worker starts), scoring, the bootstrap or saving predictions."""

    primary_metric: str
    metrics: dict[str, float]
    ci95: dict[str, list[float]]
    n_examples: int
    seconds: float
    max_seq_len: int = 0
    note: str | None = None
    predictions: list[Any] = field(default_factory=list)  # per example, in the set's order (--save-predictions)

    @property
    def examples_per_s(self) -> float | None:
        return self.n_examples / self.seconds if self.seconds > 0 else None


class Stopwatch:
    """Accumulates the time spent in `with watch:` blocks (the evaluation loop: see EvalOutcome), leaving scoring
    out."""

    def __init__(self, device: str = "cpu") -> None:
        self.seconds = 0.0
        self.device = device

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        from bench.backends.transformers_backend import synchronize

        synchronize(self.device)
        self.seconds += time.perf_counter() - self._start


def load_tokenizer(backend: Any, **kwargs: Any) -> Any:
    """The model's own tokenizer (or the GGUF file's, or --tokenizer for random-weight models)."""
    from transformers import AutoTokenizer

    job = backend.job
    source = job.tokenizer or job.path
    if source is None:
        raise EvaluationError(
            f"{job.model_id} has random weights and no tokenizer: pass --tokenizer DIR (a model directory with a "
            "tokenizer whose vocabulary fits the config's vocab_size)."
        )
    model_type = str(backend.config.get("model_type", ""))
    if kwargs.pop("split_words", False) and model_type in PREFIX_SPACE_TYPES:
        kwargs["add_prefix_space"] = True
    if job.gguf_file and not job.tokenizer:
        kwargs["gguf_file"] = job.gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=backend.trust_remote_code, **kwargs)
    except (OSError, ValueError) as exc:
        raise EvaluationError(f"Cannot load a tokenizer from {source}: {exc}".splitlines()[0]) from exc
    vocab = backend.config.get("vocab_size")
    if job.weights == "random" and isinstance(vocab, int) and len(tokenizer) > vocab:
        raise EvaluationError(
            f"The tokenizer has {len(tokenizer)} tokens but the random model's vocab_size is {vocab}; raise "
            "vocab_size in the random: spec."
        )
    return tokenizer


def max_input_length(backend: Any, tokenizer: Any, default: int = 512) -> int:
    """The longest input the model takes: config positions, the tokenizer's limit, and `default` as a cap."""
    limits = [default]
    for name in ("max_position_embeddings", "n_positions", "max_source_positions"):
        value = backend.config.get(name)
        if isinstance(value, int) and value > 0:
            # RoBERTa-style position ids start at padding_idx + 1
            offset = 2 if str(backend.config.get("model_type")) in ("roberta", "xlm-roberta", "camembert") else 0
            limits.append(value - offset)
            break
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and 0 < model_max < 1_000_000:
        limits.append(model_max)
    st_config = Path(backend.job.path or "") / "sentence_bert_config.json"
    if backend.job.path and st_config.is_file():
        import json

        value = json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length")
        if isinstance(value, int) and value > 0:
            limits.append(value)
    return min(limits)


BATCH_OVERHEAD_TOKENS = 16


def length_batches(
    lengths: Sequence[int], batch_size: int, overhead_tokens: int = BATCH_OVERHEAD_TOKENS
) -> Iterator[list[int]]:
    """Indexes grouped into batches of at most `batch_size`, longest first (so memory peaks early), each padded only
    to its own longest member.

    The cuts minimise padded tokens plus `overhead_tokens` per batch (a forward's fixed cost, in tokens) over the
    length-sorted order, by dynamic programming: plain chunks of `batch_size` pad 4.7% of the tokens of the
    1,000 rt-polarity sentences (MiniLM tokenizer, batch 32); these cuts pad 0.5% in 42 batches and run the
    forwards ~3% faster here. O(n * batch_size) steps, about 3 ms for that set."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    ordered = [lengths[i] for i in order]
    n = len(order)
    cost = [0] * (n + 1)  # cost[i]: least cost of batching order[i:]
    end = [n] * (n + 1)  # end[i]: where the batch that starts at i ends
    for i in range(n - 1, -1, -1):
        width = ordered[i]  # the batch's longest member, the order being longest first
        best_end = min(n, i + batch_size)  # the largest batch first: ties go to fewer batches
        best = (best_end - i) * width + overhead_tokens + cost[best_end]
        for j in range(best_end - 1, i, -1):
            candidate = (j - i) * width + overhead_tokens + cost[j]
            if candidate < best:
                best, best_end = candidate, j
        cost[i], end[i] = best, best_end
    start = 0
    while start < n:
        yield order[start : end[start]]
        start = end[start]


def pad_features(features: Sequence[dict[str, Sequence[int]]], pad_id: int, device: str) -> dict[str, Any]:
    """Right-pad a batch of tokenizer outputs (lists of ids) to its longest member, as tensors on `device`."""
    import torch

    width = max(len(f["input_ids"]) for f in features)
    batch: dict[str, Any] = {}
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        if key not in features[0]:
            continue
        fill = pad_id if key == "input_ids" else 0
        rows = [list(f[key]) + [fill] * (width - len(f[key])) for f in features]
        batch[key] = torch.tensor(rows, dtype=torch.long, device=device)
    if "attention_mask" not in batch:
        rows = [[1] * len(f["input_ids"]) + [0] * (width - len(f["input_ids"])) for f in features]
        batch["attention_mask"] = torch.tensor(rows, dtype=torch.long, device=device)
    return batch


def pad_id_of(tokenizer: Any) -> int:
    for value in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id, 0):
        if value is not None:
            return int(value)
    return 0


def mean_ci(values: Sequence[float], n_resamples: int, seed: int) -> list[float]:
    ci = bootstrap_ci(values, n_resamples=n_resamples, seed=seed)
    return [ci.low, ci.high]


def statistic_ci(statistic: Callable[[Any], float], n: int, n_resamples: int, seed: int) -> list[float]:
    ci = bootstrap_ci_statistic(statistic, n, n_resamples=n_resamples, seed=seed)
    return [ci.low, ci.high]


def ratio_ci(
    numerator: Sequence[float],
    denominator: Sequence[float],
    n_resamples: int,
    seed: int,
    transform: Callable[[Any], Any] | None = None,
) -> list[float]:
    """Percentile bootstrap of sum(numerator) / sum(denominator) over resampled examples, vectorised (micro F1 from
    per-sentence counts, perplexity from per-window NLL sums and token counts)."""
    import numpy as np

    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(num), size=(n_resamples, len(num)))
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(den[idx].sum(1) > 0, num[idx].sum(1) / den[idx].sum(1), 0.0)
    if transform is not None:
        values = transform(values)
    low, high = np.quantile(values, [0.025, 0.975])
    return [float(low), float(high)]


@contextlib.contextmanager
def prepacked_linear_layers(model: Any, device: str) -> Iterator[int]:
    """Inside the block, the model's nn.Linear layers run on oneDNN with their weights reordered once into its
    blocked layout (as torch.compile's CPU freezing does); on exit the layers are as they were. Yields how many
    layers were packed: 0 off CPU, without oneDNN, for weights other than float32, or when free memory is short of
    the packed copy (it lives beside the original weights while the block runs).

    Why: MKL's sgemm, behind a plain nn.Linear, takes its AVX2 path on this AMD EPYC, while oneDNN's prepacked GEMM
    uses AVX-512: all-MiniLM-L6-v2 on the 1,000 rt-polarity sentences spends 3.8 s instead of 4.4 s in its forward
    passes here (measured interleaved). The outputs agree with the plain layers to float32 rounding (largest logit
    difference 1e-7 there); call it under inference_mode, as the packed layers record no gradient."""
    import torch

    linears: list[Any] = [m for m in model.modules() if type(m) is torch.nn.Linear]
    if not _can_prepack(linears, device):
        yield 0
        return
    packed: list[Any] = []

    def restore() -> None:
        for layer in packed:
            del layer.forward  # the instance attribute; nn.Linear.forward shows through again
        packed.clear()

    try:
        for layer in linears:
            weight = torch.ops.mkldnn._reorder_linear_weight(layer.weight.detach())
            bias = None if layer.bias is None else layer.bias.detach()
            layer.forward = _packed_forward(weight, bias)
            packed.append(layer)
    except (AttributeError, NotImplementedError, RuntimeError):  # a torch build without these oneDNN ops
        restore()
    try:
        yield len(packed)
    finally:
        restore()


def _can_prepack(linears: list[Any], device: str) -> bool:
    import psutil
    import torch

    if device != "cpu" or not linears or not torch.backends.mkldnn.is_available():  # type: ignore[no-untyped-call]
        return False
    if any(layer.weight.dtype != torch.float32 or layer.weight.device.type != "cpu" for layer in linears):
        return False
    size = sum(layer.weight.numel() * layer.weight.element_size() for layer in linears)
    return bool(psutil.virtual_memory().available > 2 * size)


def _packed_forward(weight: Any, bias: Any) -> Callable[[Any], Any]:
    import torch

    def forward(x: Any) -> Any:
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")

    return forward


def no_grad_forward(model: Any, batch: dict[str, Any]) -> Any:
    import torch

    with torch.inference_mode():
        return model(**batch)
