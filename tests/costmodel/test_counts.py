"""FLOP, byte and parameter counts of the cost model against values computed by hand (written out below as the
arithmetic they come from) and against the parameter counts of real configs."""

from __future__ import annotations

import json

import pytest

from catalog.costmodel.arch import derive, from_config
from catalog.costmodel.counts import kv_cache_bytes, phases
from tests.conftest import require_shared

BERT_BASE = {
    "model_type": "bert",
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "vocab_size": 30522,
    "max_position_embeddings": 512,
    "hidden_act": "gelu",
}
GPT2 = {
    "model_type": "gpt2",
    "n_embd": 768,
    "n_layer": 12,
    "n_head": 12,
    "vocab_size": 50257,
    "n_positions": 1024,
    "activation_function": "gelu_new",
}
TINYLLAMA = {
    "model_type": "llama",
    "hidden_size": 2048,
    "num_hidden_layers": 22,
    "num_attention_heads": 32,
    "num_key_value_heads": 4,
    "intermediate_size": 5632,
    "vocab_size": 32000,
    "hidden_act": "silu",
    "tie_word_embeddings": False,
}
QWEN2_05B = {
    "model_type": "qwen2",
    "hidden_size": 896,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "intermediate_size": 4864,
    "vocab_size": 151936,
    "hidden_act": "silu",
    "tie_word_embeddings": True,
}
T5_SMALL = {
    "model_type": "t5",
    "d_model": 512,
    "d_kv": 64,
    "num_heads": 8,
    "d_ff": 2048,
    "num_layers": 6,
    "num_decoder_layers": 6,
    "vocab_size": 32128,
    "feed_forward_proj": "relu",
    "is_encoder_decoder": True,
}
VIT_BASE = {
    "model_type": "vit",
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "image_size": 224,
    "patch_size": 16,
    "num_channels": 3,
}
WHISPER_TINY = {
    "model_type": "whisper",
    "d_model": 384,
    "encoder_layers": 4,
    "decoder_layers": 4,
    "encoder_attention_heads": 6,
    "decoder_attention_heads": 6,
    "encoder_ffn_dim": 1536,
    "decoder_ffn_dim": 1536,
    "num_mel_bins": 80,
    "max_source_positions": 1500,
    "vocab_size": 51865,
    "max_target_positions": 448,
}

BERT_LAYER = 4 * 768 * 768 + 2 * 768 * 3072  # Q, K, V, O + the two MLP matrices = 7,077,888


def by_name(work: list) -> dict:
    return {p.name: p for p in work}


def test_bert_base_forward_flops_and_bytes() -> None:
    arch = from_config(BERT_BASE, "feature-extraction")
    assert arch.kind == "encoder"
    assert arch.encoder_layer_params == BERT_LAYER == 7_077_888
    (forward,) = phases(arch, "feature-extraction", 1, 128, "float32")
    # per layer: 2 x 128 tokens x layer params + attention scores 4 x 128^2 x 768; no LM head
    assert forward.flops == 12 * (2 * 128 * BERT_LAYER + 4 * 128 * 128 * 768) == 22_347_251_712
    assert forward.bytes == 12 * BERT_LAYER * 4
    (batched,) = phases(arch, "feature-extraction", 8, 128, "float32")
    assert batched.flops == 8 * forward.flops
    (masked,) = phases(arch, "fill-mask", 1, 128, "float32")  # the MLM head: 2 x 128 x vocab x hidden more
    assert masked.flops - forward.flops == 2 * 128 * 30522 * 768
    # parameters: layers + word and position embeddings (biases and norms are not counted)
    assert arch.total_params == 12 * BERT_LAYER + 30522 * 768 + 512 * 768 == 108_768_768


def test_gpt2_prefill_decode_and_kv_cache() -> None:
    arch = from_config(GPT2, "text-generation")
    assert arch.kind == "decoder" and not arch.gated
    prefill, decode = phases(arch, "text-generation", 1, 128, "float32", new_tokens=4)
    lm_head = 2 * 50257 * 768
    assert prefill.flops == 12 * (2 * 128 * BERT_LAYER + 4 * 128 * 128 * 768) + 128 * lm_head
    # three decode steps at contexts 129, 130, 131
    assert decode.calls == 3
    assert decode.flops == sum(12 * (2 * BERT_LAYER + 4 * c * 768) + lm_head for c in (129, 130, 131))
    kv_per_position = 2 * 12 * 768 * 4  # K and V of every layer, float32
    weights_read = (12 * BERT_LAYER + 50257 * 768) * 4
    assert decode.bytes == sum(weights_read + kv_per_position * c for c in (129, 130, 131))
    assert kv_cache_bytes(arch, 2, 100, "float32") == 2 * 100 * kv_per_position


def test_llama_grouped_query_attention() -> None:
    arch = from_config(TINYLLAMA, "text-generation")
    assert (arch.heads, arch.kv_heads, arch.head_dim, arch.gated) == (32, 4, 64, True)
    attention = 2 * 2048 * 2048 + 2 * 2048 * (4 * 64)  # Q and O full width, K and V at 4 KV heads
    mlp = 3 * 2048 * 5632  # gate, up, down
    assert arch.decoder_layer_params == attention + mlp == 44_040_192
    assert arch.total_params == 22 * (attention + mlp) + 2 * 32000 * 2048  # untied LM head
    # the KV cache is 8x smaller than with full multi-head attention
    assert kv_cache_bytes(arch, 1, 1000, "bfloat16") == 1000 * 2 * 22 * 256 * 2
    full = from_config({**TINYLLAMA, "num_key_value_heads": 32}, "text-generation")
    assert kv_cache_bytes(full, 1, 1000, "bfloat16") == 8 * kv_cache_bytes(arch, 1, 1000, "bfloat16")
    # attention scores keep all 32 query heads: the same 4 x s^2 x 2048 per layer either way
    prefill = by_name(phases(arch, "text-generation", 1, 256, "bfloat16"))["prefill"]
    assert prefill.flops == 22 * (2 * 256 * (attention + mlp) + 4 * 256 * 256 * 2048) + 2 * 256 * 32000 * 2048


def test_qwen2_parameter_count_and_decode_bytes() -> None:
    arch = from_config(QWEN2_05B, "text-generation")
    layer = 2 * 896 * 896 + 2 * 896 * 128 + 3 * 896 * 4864  # 14 query heads of 64, 2 KV heads of 64
    assert arch.total_params == 24 * layer + 151936 * 896 == 493_961_216  # tied: one embedding matrix
    decode = by_name(phases(arch, "text-generation", 1, 512, "bfloat16", new_tokens=2))["decode"]
    kv = 2 * 24 * 128 * 2 * 513  # the cache at 513 positions, bfloat16
    assert decode.bytes == (24 * layer + 151936 * 896) * 2 + kv


def test_t5_encoder_decoder_prefill() -> None:
    arch = from_config(T5_SMALL, "text2text-generation")
    assert arch.kind == "encoder-decoder"
    attention, mlp = 4 * 512 * 512, 2 * 512 * 2048
    assert arch.encoder_layer_params == attention + mlp
    assert arch.decoder_layer_params == 2 * attention + mlp  # self- and cross-attention
    assert arch.total_params == 6 * (attention + mlp) + 6 * (2 * attention + mlp) + 32128 * 512 == 60_489_728
    prefill, decode = phases(arch, "text2text-generation", 1, 64, "float32", new_tokens=3)
    encoder = 6 * (2 * 64 * (attention + mlp) + 4 * 64 * 64 * 512)
    cross_kv = 6 * 2 * 64 * (2 * 512 * 512)  # K and V of the encoder output, once per decoder layer
    step_params = 2 * attention + mlp - 2 * 512 * 512  # what one step multiplies (cross K/V are cached)
    first_step = 6 * (2 * step_params + 4 * 1 * 512 + 4 * 64 * 512) + 2 * 32128 * 512
    assert prefill.flops == encoder + cross_kv + first_step == 2_946_641_920
    assert decode.flops == sum(6 * (2 * step_params + 4 * t * 512 + 4 * 64 * 512) + 2 * 32128 * 512 for t in (2, 3))


def test_vit_patches_are_the_tokens() -> None:
    arch = from_config(VIT_BASE, "image-classification")
    assert arch.kind == "vision"
    assert arch.tokens(128) == 14 * 14 + 1  # the sequence length asked for does not matter
    (forward,) = phases(arch, "image-classification", 2, 128, "float32")
    patch_projection = 2 * 196 * (3 * 16 * 16 * 768)
    assert forward.flops == 2 * (12 * (2 * 197 * BERT_LAYER + 4 * 197 * 197 * 768) + patch_projection)


def test_whisper_audio_frames() -> None:
    arch = from_config(WHISPER_TINY, "automatic-speech-recognition")
    assert arch.kind == "audio"
    assert arch.tokens(128) == 1500  # 3000 mel frames through a stride-2 convolution
    (forward,) = phases(arch, "automatic-speech-recognition", 1, 128, "float32")
    convolutions = 2 * 3000 * 80 * 384 * 3 + 2 * 1500 * 384 * 384 * 3
    layer = 4 * 384 * 384 + 2 * 384 * 1536
    encoder = 4 * (2 * 1500 * layer + 4 * 1500 * 1500 * 384)
    cross_kv = 4 * 2 * 1500 * (2 * 384 * 384)
    step = 4 * (2 * (2 * 4 * 384 * 384 + 2 * 384 * 1536 - 2 * 384 * 384) + 4 * 384 + 4 * 1500 * 384)
    assert forward.flops == convolutions + encoder + cross_kv + step + 2 * 51865 * 384


@pytest.mark.parametrize(
    ("name", "task", "true_params"),
    [
        ("google-bert__bert-base-uncased.json", "fill-mask", 109_482_240),  # BertModel incl. pooler
        ("sentence-transformers__all-MiniLM-L6-v2.json", "feature-extraction", 22_713_216),
        ("facebook__bart-large-cnn.json", "summarization", 406_290_432),
        ("historical/openai-community__gpt2.json", "text-generation", 124_439_808),
    ],
)
def test_parameter_counts_of_real_configs(name: str, task: str, true_params: int) -> None:
    """Matrices and embeddings are within 1.5% of the published counts (biases, norms and poolers are the rest)."""
    config = json.loads(require_shared(f"hub/configs/{name}").read_text())
    arch = from_config(config, task)
    assert abs(arch.total_params - true_params) / true_params < 0.015


def test_derived_shapes_match_the_parameter_count() -> None:
    for params, model_type, task in [
        (110e6, "bert", "text-classification"),
        (135e6, "smollm", "text-generation"),
        (7e9, "llama", "text-generation"),
        (300e6, "t5", "translation"),
        (86e6, "vit", "image-classification"),
    ]:
        arch = derive(int(params), model_type, task)
        assert arch.derived and "derived" in arch.derived
        assert abs(arch.total_params - params) / params < 0.1
    small = derive(135_000_000, "smollm", "text-generation")
    assert small.decoder_layers >= 20  # small members of a family stay deep and get narrower
