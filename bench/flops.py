"""FLOPs of one forward pass, from the config alone (so they exist for random-weight runs as well).

The counts are the cost model's (catalog.costmodel.counts, where the conventions are written out and tested):
multiply-add = 2 FLOPs; attention scores included; embeddings, norms, softmax and activations not counted; the LM
head only for tasks that compute logits over the vocabulary. For generation tasks the "forward" is the prefill (what
achieved GFLOP/s is measured on): the whole prompt for decoders; for encoder-decoder models the encoder, the
cross-attention keys and values and the first decoder step. Vision transformers run over their patches, audio
models over the positions their convolution front end makes. Returns None for configs without those shapes.
"""

from __future__ import annotations

from typing import Any


def _architecture(config: dict[str, Any], task: str) -> Any:
    from catalog.costmodel.arch import UnsupportedConfigError, from_config

    try:
        return from_config(config, task)
    except UnsupportedConfigError:
        return None


def flops_per_forward(config: dict[str, Any], task: str, batch_size: int, seq_len: int) -> int | None:
    """FLOPs of one forward pass (the prefill, for generation) over a (batch_size, seq_len) input."""
    from catalog.costmodel.counts import phases

    arch = _architecture(config, task)
    if arch is None:
        return None
    first = phases(arch, task, batch_size, seq_len, "float32", new_tokens=1)[0]
    return int(first.flops)


def decode_flops_per_token(config: dict[str, Any], context_len: int) -> int | None:
    """FLOPs of one decode step of a decoder-only model at `context_len` tokens of KV cache (per sequence)."""
    from catalog.costmodel.counts import decoder_step

    arch = _architecture(config, "text-generation")
    if arch is None or arch.decoder_layers == 0:
        return None
    flops, _ = decoder_step(arch, 1, context_len)
    return int(flops)
