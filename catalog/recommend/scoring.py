"""Score components and profiles. Every component value is in [0, 1]; a profile is a set of weights; the score
is the weighted sum, so the components of an explanation add up to the score exactly.

Components
  popularity   0.8 x log(1+downloads)/best + 0.2 x log(1+likes)/best, within the task's candidates
  recency      half-life of one year since the Hub's lastModified (createdAt if missing)
  accuracy     standing on the task's benchmarks (catalog/recommend/quality.py): per comparable group (same
               benchmark, dataset, metric, direction, protocol; perplexity also the same tokenizer) the mid-rank
               percentile among the candidates with a row in it, combined across benchmarks by weight; results
               measured here on labelled data count too. Without direct evidence: a labelled prior, or 0
  size         smaller is better: log-scaled position between the largest and smallest candidate
  latency      faster is better: log-scaled, from measured p50 on this machine, else estimated from parameters
  curated      in the reviewed taxonomy (catalog.yaml)
  specialised  the task is the model's own Hub pipeline tag

Under `accurate`, popularity weighs nothing: it never stands in for quality and only breaks ties (the order's
tie-breaker is always downloads, then the id).
"""

from __future__ import annotations

from collections.abc import Mapping

COMPONENTS = ("popularity", "recency", "accuracy", "size", "latency", "curated", "specialised")

PROFILES: dict[str, dict[str, float]] = {
    "balanced": {"popularity": 0.30, "accuracy": 0.20, "latency": 0.15, "size": 0.10, "recency": 0.10,
                 "curated": 0.10, "specialised": 0.05},
    "fast": {"latency": 0.45, "size": 0.20, "popularity": 0.15, "accuracy": 0.10, "curated": 0.05,
             "specialised": 0.05, "recency": 0.00},
    "accurate": {"accuracy": 0.75, "popularity": 0.00, "curated": 0.05, "recency": 0.10, "specialised": 0.05,
                 "latency": 0.05, "size": 0.00},
    "small": {"size": 0.50, "latency": 0.15, "popularity": 0.15, "accuracy": 0.10, "curated": 0.05,
              "specialised": 0.05, "recency": 0.00},
}  # fmt: skip

# The one label of a latency or memory figure timed on this machine with weights built from the config.
RANDOM_WEIGHTS_LABEL = "measured here, random weights"

# Metrics where lower is better, for names the metric registry (data/metrics.yaml) does not know.
LOWER_IS_BETTER = {"wer", "cer", "perplexity", "loss", "mae", "rmse", "mse", "eval-loss", "ter"}


def profile_weights(profile: str, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    from catalog.errors import UsageError

    if profile not in PROFILES:
        raise UsageError(f"Unknown profile {profile!r}: use one of {', '.join(PROFILES)}.")
    weights = {name: PROFILES[profile].get(name, 0.0) for name in COMPONENTS}
    for name, value in (overrides or {}).items():
        if name not in weights:
            raise UsageError(f"Unknown score component {name!r}; known: {', '.join(COMPONENTS)}.")
        if not 0 <= value < float("inf"):  # also refuses NaN, which would make every score NaN
            raise UsageError(f"Weight of {name} must be a finite number, at least 0, not {value}.")
        weights[name] = float(value)
    return weights


def as_fraction(metric: str, value: float, scale: str) -> float | None:
    """A higher-is-better metric as a fraction in [0, 1]; None when it cannot be read that way."""
    if metric.lower() in LOWER_IS_BETTER:
        return None
    if scale == "percent" or (scale == "raw" and 1.0 < value <= 100.0):
        value = value / 100.0
    if 0.0 <= value <= 1.0:
        return value
    return None
