"""FLOPs of one forward pass, from the config alone (so they exist for random-weight runs as well).

Formula (multiply-add = 2 FLOPs; norms, softmax, activations and embeddings lookups are ignored; they are a
few percent at most for standard transformers):

    linear   = 2 x (matrix parameters outside the embeddings) x tokens
    attention = 2 x 2 x layers x s^2 x d_attn per sequence        (Q.K^T and A.V; d_attn = heads x head_dim)
    LM head  = 2 x vocab x hidden x tokens                          (only for fill-mask / text-generation heads)

Matrix parameters per layer: attention 2·h·(heads·head_dim) + 2·h·(kv_heads·head_dim), MLP (2 or 3 for gated
MLPs)·h·intermediate; decoder layers of encoder-decoder models add cross-attention. For encoder-decoder models a
"forward" is the prefill: the encoder over s tokens plus one decoder step (self- and cross-attention over s).
Vision transformers use s = (image_size / patch_size)^2 + 1. Returns None for configs without those shapes.
"""

from __future__ import annotations

from typing import Any

GATED_ACTIVATIONS = ("silu", "swiglu", "swish")
HEAD_TASKS = ("fill-mask", "text-generation", "text2text-generation", "summarization", "translation")


def _first(config: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = config.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _layer_matrices(config: dict[str, Any], hidden: int) -> tuple[int, int, int]:
    """(self-attention, MLP, attention width d_attn) matrix parameters of one layer."""
    heads = _first(config, "num_attention_heads", "n_head", "encoder_attention_heads", "num_heads") or 1
    kv_heads = _first(config, "num_key_value_heads") or heads
    head_dim = _first(config, "head_dim", "d_kv") or hidden // heads
    attention = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim
    intermediate = _first(config, "intermediate_size", "n_inner", "d_ff", "encoder_ffn_dim", "ffn_dim") or 4 * hidden
    activation = str(
        config.get("hidden_act") or config.get("activation_function") or config.get("feed_forward_proj") or ""
    )
    gated = any(a in activation for a in GATED_ACTIVATIONS) or "gated" in activation
    if str(config.get("model_type")) == "gpt2":
        gated = False
    mlp = (3 if gated else 2) * hidden * intermediate
    return attention, mlp, heads * head_dim


def flops_per_forward(config: dict[str, Any], task: str, batch_size: int, seq_len: int) -> int | None:
    """FLOPs of one forward pass over a (batch_size, seq_len) input; None when the config lacks shapes."""
    if isinstance(config.get("text_config"), dict) and not _first(config, "hidden_size", "d_model", "n_embd"):
        config = config["text_config"]
    hidden = _first(config, "hidden_size", "d_model", "n_embd", "dim")
    if hidden is None:
        return None
    attention, mlp, d_attn = _layer_matrices(config, hidden)
    vocab = _first(config, "vocab_size") or 0
    model_type = str(config.get("model_type", ""))
    s = seq_len
    if model_type in ("vit", "deit", "beit"):
        image, patch = _first(config, "image_size"), _first(config, "patch_size")
        if not image or not patch:
            return None
        s = (image // patch) ** 2 + 1
    if config.get("is_encoder_decoder"):
        enc_layers = _first(config, "encoder_layers", "num_layers") or 0
        dec_layers = _first(config, "decoder_layers", "num_decoder_layers") or enc_layers
        encoder = 2 * enc_layers * (attention + mlp) * s + 4 * enc_layers * s * s * d_attn
        decoder = 2 * dec_layers * (2 * attention + mlp) + 4 * dec_layers * (1 + s) * d_attn
        head = 2 * vocab * hidden if task in HEAD_TASKS else 0
        return int(batch_size * (encoder + decoder + head))
    layers = _first(config, "num_hidden_layers", "n_layer", "n_layers", "num_layers")
    if layers is None:
        return None
    linear = 2 * layers * (attention + mlp) * s
    attention_scores = 4 * layers * s * s * d_attn
    head = 2 * vocab * hidden * s if task in HEAD_TASKS else 0
    return int(batch_size * (linear + attention_scores + head))


def decode_flops_per_token(config: dict[str, Any], context_len: int) -> int | None:
    """FLOPs of one decode step of a decoder-only model at `context_len` tokens of KV cache (per sequence)."""
    hidden = _first(config, "hidden_size", "d_model", "n_embd", "dim")
    layers = _first(config, "num_hidden_layers", "n_layer", "n_layers", "num_layers")
    if hidden is None or layers is None:
        return None
    attention, mlp, d_attn = _layer_matrices(config, hidden)
    vocab = _first(config, "vocab_size") or 0
    return int(2 * layers * (attention + mlp) + 4 * layers * context_len * d_attn + 2 * vocab * hidden)
