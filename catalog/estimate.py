"""Estimates without weights: parameter count and weight memory from a config (or, weaker, from a model's name).

Formulas count the matrices that dominate (embeddings, attention, MLP, LM head) and ignore norms and biases, so
they land within a few percent of the true count for standard transformer configs. Every result says so.
"""

from __future__ import annotations

import re
from typing import Any

GATED_MLP_TYPES = {
    "llama", "mistral", "mixtral", "gemma", "gemma2", "qwen2", "qwen2_moe", "qwen3", "phi3", "olmo", "olmo2",
    "cohere", "internlm2", "deepseek_v2", "starcoder2", "stablelm", "granite", "smollm3",
}  # fmt: skip
ABSOLUTE_POSITION_TYPES = {
    "bert", "roberta", "distilbert", "electra", "albert", "xlm-roberta", "camembert", "gpt2", "bart", "mbart",
    "m2m_100", "marian", "pegasus", "whisper", "vit", "deit", "mpnet", "ernie",
}  # fmt: skip


def _first(config: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = config.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def params_from_config(config: dict[str, Any]) -> int | None:
    """Approximate total parameters of a text transformer config; None when the config lacks the shapes."""
    if "vision_config" in config or "audio_config" in config:
        return None  # multimodal: the text formula would silently miss the other towers
    text_config = config.get("text_config")
    if isinstance(text_config, dict) and not _first(config, "hidden_size", "d_model", "n_embd"):
        config = {**text_config, "model_type": text_config.get("model_type", config.get("model_type"))}
    model_type = str(config.get("model_type", ""))
    hidden = _first(config, "hidden_size", "d_model", "n_embd", "dim")
    vocab = _first(config, "vocab_size")
    if hidden is None or vocab is None:
        return None
    encoder_layers = _first(config, "encoder_layers", "num_layers")
    decoder_layers = _first(config, "decoder_layers", "num_decoder_layers")
    layers = _first(config, "num_hidden_layers", "n_layer", "n_layers")
    is_seq2seq = bool(config.get("is_encoder_decoder")) or (decoder_layers is not None and encoder_layers is not None)
    intermediate = _first(config, "intermediate_size", "n_inner", "d_ff", "encoder_ffn_dim", "ffn_dim", "hidden_dim")
    intermediate = intermediate or 4 * hidden
    heads = _first(config, "num_attention_heads", "n_head", "encoder_attention_heads", "num_heads", "n_heads")
    kv_heads = _first(config, "num_key_value_heads") or heads
    head_dim = _first(config, "head_dim") or (hidden // heads if heads else hidden)
    q_and_o = 2 * hidden * (heads * head_dim if heads else hidden)
    k_and_v = 2 * hidden * (kv_heads * head_dim if kv_heads else hidden)
    attention = q_and_o + k_and_v
    gated = model_type in GATED_MLP_TYPES or (config.get("hidden_act") in ("silu", "swiglu") and model_type != "gpt2")
    mlp = (3 if gated else 2) * hidden * intermediate
    experts = _first(config, "num_local_experts", "num_experts")
    if experts:
        mlp = experts * mlp + hidden * experts
    embeddings = vocab * hidden
    if model_type in ABSOLUTE_POSITION_TYPES:
        embeddings += (_first(config, "max_position_embeddings", "n_positions") or 0) * hidden
    if is_seq2seq:
        enc = encoder_layers or layers or 0
        dec = decoder_layers or enc
        total = embeddings + enc * (attention + mlp) + dec * (2 * attention + mlp)
    else:
        if layers is None:
            return None
        total = embeddings + layers * (attention + mlp)
    if config.get("tie_word_embeddings") is False:
        total += vocab * hidden
    return int(total)


_NAME_SIZE = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*([mb])(?![a-z0-9])")


def params_from_name(model_id: str) -> int | None:
    """'Llama-2-7b-hf' -> 7e9, 'SmolLM2-135M' -> 135e6. Mixture names ('8x7B') are not guessed."""
    name = model_id.rsplit("/", 1)[-1].lower().replace("_", "-")
    if re.search(r"\d+x\d+(\.\d+)?[mb]", name):
        return None
    matches = _NAME_SIZE.findall(name)
    if len(matches) != 1:
        return None
    number, unit = matches[0]
    value = float(number) * (1e6 if unit == "m" else 1e9)
    return int(value) if value >= 1e5 else None


BYTES_PER_PARAM = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "int4": 0.5}


def weight_bytes(params: int, dtype: str = "float32") -> int:
    return int(params * BYTES_PER_PARAM[dtype])
