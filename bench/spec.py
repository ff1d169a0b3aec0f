"""What to benchmark: BenchSpec (the whole run) and the per-model settings a worker process receives.

Constructible from Python as well as from the CLI; every value is checked in __post_init__, so a bad option fails
before any model loads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.latency import DEFAULT_MIN_ITERATIONS
from catalog.errors import UsageError

DEVICES = ("cpu", "cuda", "mps")
DTYPES = ("float32", "bfloat16", "float16")


def parse_label_map(text: str | None) -> dict[str, str]:
    """--label-map: a JSON object {"POS": "positive"} or pairs POS=positive,NEG=negative (model label -> dataset
    label)."""
    if not text or not text.strip():
        return {}
    text = text.strip()
    if text.startswith("{"):
        import json

        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f'--label-map is not valid JSON ({exc.msg}); write {{"POS": "positive"}}.') from None
        if not isinstance(data, dict):
            raise UsageError("--label-map JSON must be an object: model label -> dataset label.")
        return {str(k): str(v) for k, v in data.items()}
    pairs: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(f"--label-map takes MODEL_LABEL=DATASET_LABEL pairs separated by commas, not {part!r}.")
        pairs[key.strip()] = value.strip()
    return pairs


@dataclass
class EvalSpec:
    """Accuracy on labelled data, measured in the same run as the speed: a registered set (`name`) or the user's
    own file (`file` + column names), a seeded sample of `limit` examples, the batch size of the evaluation."""

    name: str | None = None
    file: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    text_pair_column: str | None = None
    reference_file: str | None = None
    label_map: dict[str, str] = field(default_factory=dict)
    limit: int | None = None
    seed: int = 0
    batch_size: int = 32
    max_length: int | None = None  # tokens per example (per window for perplexity); None: the task's default
    stride: int | None = None  # perplexity: tokens between window starts; None: half of max_length
    max_new_tokens: int = 32  # summarization / translation / Whisper ASR: greedy decoding length cap
    n_resamples: int = 1000  # bootstrap resamples for the 95% intervals
    allow_random: bool = False  # score random-weight models (a chance-level sanity check, never a quality figure)
    save_predictions: str | None = None  # append per-example predictions (JSON Lines) to this file

    def __post_init__(self) -> None:
        if bool(self.name) == bool(self.file):
            raise UsageError("Give exactly one of --eval SET and --eval-file PATH.")
        if self.limit is not None and self.limit <= 0:
            raise UsageError(f"--limit must be a positive number of examples, not {self.limit}.")
        if self.batch_size <= 0:
            raise UsageError(f"--eval-batch-size must be positive, not {self.batch_size}.")
        if self.max_length is not None and self.max_length < 2:
            raise UsageError(f"--eval-max-length must be at least 2, not {self.max_length}.")
        if self.stride is not None and self.stride <= 0:
            raise UsageError(f"--stride must be positive, not {self.stride}.")
        if self.max_new_tokens <= 0 or self.n_resamples <= 0:
            raise UsageError("max_new_tokens and n_resamples must be positive.")

    @property
    def label(self) -> str:
        """How results name the set: the registry name, or file:<basename>."""
        if self.file:
            import os

            return f"file:{os.path.basename(self.file)}"
        return str(self.name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BenchSpec:
    """A benchmark run: models x (batch size, sequence length) on one device and dtype."""

    models: tuple[str, ...]
    task: str | None = None
    batch_sizes: tuple[int, ...] = (1,)
    seq_lens: tuple[int, ...] = (128,)
    device: str = "cpu"
    dtype: str = "float32"
    threads: int | None = None
    no_weights: bool = False
    budget_s: float = 10.0  # per (model, shape): the cap on warm-up + measurement
    target_rel: float = 0.02
    min_iterations: int = DEFAULT_MIN_ITERATIONS
    warmup_iterations: int = 3
    new_tokens: int = 16  # text generation: decode steps per iteration
    image_size: int | None = None  # vision: defaults to the config's image_size
    audio_seconds: float = 5.0
    timeout_s: float | None = None  # per model process; None: derived from the budget
    memory_limit_mb: float | None = None  # per model process RSS guard; None: 90% of available RAM
    allow_pickle: bool = False
    trust_remote_code: bool = False
    evaluation: EvalSpec | None = None  # accuracy on labelled data after the latency shapes
    tokenizer: str | None = None  # a tokenizer directory for random-weight models (they have none of their own)

    def __post_init__(self) -> None:
        self.models = tuple(self.models)
        if isinstance(self.evaluation, dict):
            self.evaluation = EvalSpec(**self.evaluation)
        if self.evaluation and not self.evaluation.allow_random:
            randoms = [m for m in self.models if m.startswith("random:")] if not self.no_weights else list(self.models)
            if randoms:
                raise UsageError(
                    f"Accuracy needs real weights: {', '.join(randoms)} would be scored with random weights, which "
                    "says nothing about quality. Drop --eval, or add --allow-random-eval for a chance-level sanity "
                    "check (such results are marked as random, never used as accuracy)."
                )
        self.batch_sizes = tuple(self.batch_sizes)
        self.seq_lens = tuple(self.seq_lens)
        if not self.models:
            raise UsageError("Nothing to benchmark: give --model ID_OR_PATH (repeatable) or --task T --top K.")
        if self.device not in DEVICES:
            raise UsageError(f"--device must be one of {', '.join(DEVICES)}, not {self.device!r}.")
        if self.dtype not in DTYPES:
            raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, not {self.dtype!r}.")
        if not self.batch_sizes or any(b <= 0 for b in self.batch_sizes):
            raise UsageError("--batch-sizes must be positive integers.")
        if not self.seq_lens or any(s <= 0 for s in self.seq_lens):
            raise UsageError("--seq-lens must be positive integers.")
        if self.threads is not None and self.threads <= 0:
            raise UsageError(f"--threads must be positive, not {self.threads}.")
        if self.budget_s <= 0:
            raise UsageError(f"--budget-s must be positive, not {self.budget_s}.")
        if not 0 < self.target_rel < 1:
            raise UsageError(f"target_rel must be within (0, 1), not {self.target_rel}.")
        if self.min_iterations < 1:
            raise UsageError(f"--min-iterations must be at least 1, not {self.min_iterations}.")
        if self.warmup_iterations < 0:
            raise UsageError(f"warmup_iterations cannot be negative, not {self.warmup_iterations}.")
        if self.new_tokens < 1:
            raise UsageError(f"--new-tokens must be at least 1, not {self.new_tokens}.")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise UsageError(f"--timeout-s must be positive, not {self.timeout_s}.")
        if self.memory_limit_mb is not None and self.memory_limit_mb <= 0:
            raise UsageError(f"--memory-limit-mb must be positive, not {self.memory_limit_mb}.")

    @property
    def shapes(self) -> list[tuple[int, int]]:
        return [(b, s) for b in self.batch_sizes for s in self.seq_lens]

    def model_timeout_s(self) -> float:
        """Per model process: explicit, else generous room for imports and loading plus every shape's budget."""
        if self.timeout_s is not None:
            return self.timeout_s
        base = 180.0 + 3 * self.budget_s * len(self.shapes)
        return base + (1800.0 if self.evaluation else 0.0)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("models", "batch_sizes", "seq_lens"):
            data[key] = list(data[key])
        return data


@dataclass
class ModelJob:
    """One model as a worker process receives it: where its config/weights are and how to run it."""

    model_id: str  # what the user named (catalog id, Hub id or local path): results are stored under it
    task: str
    weights: str  # 'real' | 'random'
    path: str | None = None  # local directory holding config.json (and weights when real)
    gguf_file: str | None = None  # a GGUF checkpoint inside `path`
    config: dict[str, Any] = field(default_factory=dict)  # when random weights: the config to instantiate
    shapes: tuple[tuple[int, int], ...] = ((1, 128),)
    tokenizer: str | None = None  # a tokenizer directory when `path` has none (random weights)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
