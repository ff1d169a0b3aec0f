"""Memory of a model at inference: weights at the dtype (or the quantisation levels of a GGUF file), the largest
activations alive at once, the KV cache, and the runtime's fixed overhead (fitted on this machine's runs).

Activations: eager transformers keep, while a layer runs, a few copies of the hidden states, the MLP's
intermediate (two for gated MLPs) and the attention scores (batch x heads x T x T); the logits over the vocabulary
are kept at the end; an audio front end's convolutions are wider still. The largest of those sets the peak.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from catalog.costmodel.arch import SAMPLE_RATE, Architecture
from catalog.costmodel.counts import BYTES_PER_PARAM, kv_cache_bytes, weight_bytes

MB = 2**20


@dataclass
class Memory:
    """Bytes, per component; `total` is what a process's peak resident memory above its start grows by."""

    weights: float
    activations: float
    kv_cache: float
    overhead: float
    weights_basis: str

    @property
    def total(self) -> float:
        return self.weights + self.activations + self.kv_cache + self.overhead

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"total": self.total}


def activation_bytes(
    arch: Architecture, batch: int, positions: int, dtype: str, logits_positions: int, audio_seconds: float = 5.0
) -> float:
    size = BYTES_PER_PARAM[dtype]
    hidden_states = 4 * batch * positions * arch.hidden
    mlp = (2 if arch.gated else 1) * batch * positions * max(arch.intermediate, arch.decoder_intermediate)
    scores = batch * arch.heads * positions * positions
    logits = batch * logits_positions * arch.vocab if arch.lm_head else 0
    layers = size * (hidden_states + mlp + scores) + size * logits
    return max(layers, size * front_end_elements(arch, batch, audio_seconds))


def front_end_elements(arch: Architecture, batch: int, audio_seconds: float) -> float:
    """An audio front end's widest moment: a convolution's output with its norm and activation copies (3), over
    the raw frames (wav2vec2: 512 channels x 16,000 frames for 5 s at the first layer)."""
    if arch.kind != "audio" or not arch.conv:
        return 0.0
    if arch.model_type == "whisper":
        frames, widest = 2 * arch.audio_positions, 0.0
        for out, _, stride in arch.conv:
            frames //= stride
            widest = max(widest, out * frames)
        return 3.0 * batch * widest
    frames, widest = int(audio_seconds * SAMPLE_RATE), 0.0
    for out, kernel, stride in arch.conv:
        frames = max(1, (frames - kernel) // stride + 1)
        widest = max(widest, out * frames)
    return 3.0 * batch * widest


def estimate_memory(
    arch: Architecture,
    task: str,
    batch: int,
    seq_len: int,
    dtype: str,
    *,
    new_tokens: int = 16,
    overhead_bytes: float = 0.0,
    weights_override: float | None = None,
    weights_basis: str | None = None,
    audio_seconds: float = 5.0,
) -> Memory:
    from catalog.costmodel.counts import GENERATION_TASKS

    positions = arch.tokens(seq_len, audio_seconds)
    generating = task in GENERATION_TASKS and arch.decoder_layers > 0
    logits_positions = positions if arch.decoder_layers == 0 or arch.encoder_layers == 0 else 1
    kv = 0.0
    if arch.decoder_layers:
        context = (positions if arch.encoder_layers == 0 else 0) + (new_tokens if generating else 1)
        kv = kv_cache_bytes(arch, batch, context, dtype, positions)
    weights = weights_override if weights_override is not None else weight_bytes(arch, dtype)
    basis = weights_basis or f"{arch.total_params / 1e6:.0f}M params x {BYTES_PER_PARAM[dtype]:g} bytes ({dtype})"
    activations = activation_bytes(arch, batch, positions, dtype, logits_positions, audio_seconds)
    return Memory(weights, activations, kv, overhead_bytes, basis)


# --- GGUF ---------------------------------------------------------------------------------------------------------


def _field(reader: Any, name: str) -> Any:
    field = reader.fields.get(name)
    if field is None or not field.data:
        return None
    part = field.parts[field.data[0]]
    try:
        if field.types and field.types[0].name == "STRING":
            return bytes(part).decode("utf-8", "replace")
        return part.tolist()[0] if hasattr(part, "tolist") else part
    except Exception:
        return None


def gguf_info(path: str | Path) -> dict[str, Any]:
    """Weight bytes, quantisation types and a transformers-style config from a GGUF file's header (the `gguf`
    package reads it memory-mapped; no tensor data is loaded)."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    total = 0
    types: dict[str, int] = {}
    params = 0
    for tensor in reader.tensors:
        total += int(tensor.n_bytes)
        params += int(tensor.n_elements)
        name = tensor.tensor_type.name
        types[name] = types.get(name, 0) + int(tensor.n_bytes)
    arch = _field(reader, "general.architecture") or "llama"
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    vocab = len(tokens.data) if tokens is not None else None

    def key(name: str) -> Any:
        return _field(reader, f"{arch}.{name}")

    config: dict[str, Any] = {
        "model_type": {"qwen2": "qwen2", "gemma": "gemma", "phi3": "phi3", "gpt2": "gpt2"}.get(arch, "llama"),
        "hidden_size": key("embedding_length"),
        "num_hidden_layers": key("block_count"),
        "intermediate_size": key("feed_forward_length"),
        "num_attention_heads": key("attention.head_count"),
        "num_key_value_heads": key("attention.head_count_kv"),
        "max_position_embeddings": key("context_length"),
        "vocab_size": vocab,
        "hidden_act": "silu" if arch != "gpt2" else "gelu_new",
        "tie_word_embeddings": not any(t.name == "output.weight" for t in reader.tensors),
    }
    dominant = max(types, key=lambda k: types[k]) if types else "unknown"
    return {
        "weights_bytes": total,
        "params": params,
        "types": types,
        "dominant_type": dominant,
        "config": {k: v for k, v in config.items() if v is not None},
        "bits_per_weight": 8 * total / params if params else None,
    }
