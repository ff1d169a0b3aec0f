"""Synthetic inputs with controlled shapes, per task and modality: token ids (batch x sequence length), images
(batch x 3 x size x size), audio (batch x seconds at 16 kHz, or a Whisper log-mel window). Seeded, so every run of
a shape sees the same tensors. Token ids avoid the first 1,000 ids (special tokens) when the vocabulary allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TEXT_TASKS = {
    "feature-extraction", "sentence-similarity", "text-classification", "token-classification",
    "question-answering", "fill-mask", "zero-shot-classification", "text-generation", "text2text-generation",
    "summarization", "translation",
}  # fmt: skip
VISION_TASKS = {"image-classification", "object-detection", "image-segmentation"}
AUDIO_TASKS = {"automatic-speech-recognition", "audio-classification"}
GENERATION_TASKS = {"text-generation", "text2text-generation", "summarization", "translation"}
SAMPLE_RATE = 16_000


def modality(task: str) -> str:
    if task in VISION_TASKS:
        return "image"
    if task in AUDIO_TASKS:
        return "audio"
    return "text"


@dataclass(frozen=True)
class Shape:
    """The shape actually run; seq_len may be capped by the model's maximum positions."""

    batch_size: int
    seq_len: int
    note: str = ""


def max_positions(config: dict[str, Any]) -> int | None:
    for name in ("max_position_embeddings", "n_positions", "max_source_positions"):
        value = config.get(name)
        if isinstance(value, int) and value > 0:
            return value
    return None


def fit_shape(config: dict[str, Any], batch_size: int, seq_len: int) -> Shape:
    limit = max_positions(config)
    if limit is not None and seq_len > limit and str(config.get("model_type")) not in ("t5", "mt5"):
        return Shape(batch_size, limit, f"sequence length capped at the model's maximum {limit}")
    return Shape(batch_size, seq_len)


def make_inputs(
    task: str,
    config: dict[str, Any],
    shape: Shape,
    *,
    device: str = "cpu",
    float_dtype: Any = None,
    image_size: int | None = None,
    audio_seconds: float = 5.0,
    seed: int = 0,
) -> dict[str, Any]:
    """Keyword arguments for the model's forward: tensors on `device` (floats in `float_dtype`)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    b = shape.batch_size
    kind = modality(task)
    float_dtype = float_dtype or torch.float32
    if kind == "image":
        size = image_size or int(config.get("image_size") or 224)
        channels = int(config.get("num_channels") or 3)
        pixels = torch.randn(b, channels, size, size, generator=generator)
        return {"pixel_values": pixels.to(device=device, dtype=float_dtype)}
    if kind == "audio":
        if str(config.get("model_type")) == "whisper":
            mels = int(config.get("num_mel_bins") or 80)
            frames = 2 * int(config.get("max_source_positions") or 1500)
            features = torch.randn(b, mels, frames, generator=generator)
            return {"input_features": features.to(device=device, dtype=float_dtype)}
        samples = int(audio_seconds * SAMPLE_RATE)
        return {"input_values": torch.randn(b, samples, generator=generator).to(device=device, dtype=float_dtype)}
    vocab = int(config.get("vocab_size") or 30_000)
    low = 1000 if vocab > 5000 else min(5, vocab - 1)
    ids = torch.randint(low, vocab, (b, shape.seq_len), generator=generator)
    inputs: dict[str, Any] = {
        "input_ids": ids.to(device),
        "attention_mask": torch.ones(b, shape.seq_len, dtype=torch.long, device=device),
    }
    if int(config.get("type_vocab_size") or 0) > 1:
        inputs["token_type_ids"] = torch.zeros(b, shape.seq_len, dtype=torch.long, device=device)
    return inputs
