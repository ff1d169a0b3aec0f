"""A model's shapes, normalised from its config (or derived from a parameter count) into one Architecture record.

Five kinds are modelled: encoder (BERT-like), decoder (GPT/Llama-like, with grouped-query attention through
num_key_value_heads), encoder-decoder (T5/BART-like), vision (ViT-like: image patches are the tokens) and audio
(wav2vec2-like convolution front end over 16 kHz samples, or Whisper's log-mel frames through an encoder-decoder).

Catalog rows often have only a parameter count and a model type. `derive()` then builds a typical shape: the
family's depth-to-width ratio, MLP ratio, vocabulary and heads from its default config, scaled so that the count
matches; `Architecture.derived` says so, and every figure built on it repeats it in its basis.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from catalog.costmodel.defaults import DEFAULTS

KINDS = ("encoder", "decoder", "encoder-decoder", "vision", "audio")
DECODER_TYPES = {
    "gpt2",
    "gpt_neo",
    "gpt_neox",
    "gptj",
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen3",
    "qwen2_moe",
    "gemma",
    "gemma2",
    "gemma3_text",
    "phi",
    "phi3",
    "opt",
    "bloom",
    "falcon",
    "smollm3",
    "olmo",
    "olmo2",
    "starcoder2",
    "codegen",
    "granite",
    "cohere",
    "stablelm",
    "internlm2",
    "deepseek_v2",
    "smollm",
    "gpt_bigcode",
    "mpt",
}
ENCODER_DECODER_TYPES = {
    "t5",
    "mt5",
    "bart",
    "mbart",
    "marian",
    "pegasus",
    "m2m_100",
    "nllb",
    "longt5",
    "led",
    "nllb-moe",
    "umt5",
}
VISION_TYPES = {
    "vit",
    "deit",
    "beit",
    "dinov2",
    "data2vec-vision",
    "vit_mae",
    "clip_vision_model",
    "siglip_vision_model",
    "yolos",
    "vit_msn",
}
AUDIO_TYPES = {
    "wav2vec2",
    "hubert",
    "wavlm",
    "data2vec-audio",
    "sew",
    "unispeech",
    "unispeech-sat",
    "wav2vec2-conformer",
    "whisper",
}
GATED_ACTIVATIONS = ("silu", "swiglu", "swish", "geglu", "gated")
VISION_TASKS = {"image-classification", "object-detection", "image-segmentation"}
AUDIO_TASKS = {"automatic-speech-recognition", "audio-classification"}
SEQ2SEQ_TASKS = {"text2text-generation", "summarization", "translation"}
LM_HEAD_TASKS = {
    "fill-mask",
    "text-generation",
    "text2text-generation",
    "summarization",
    "translation",
    "automatic-speech-recognition",
}
# A family the catalog knows without a default config here: the closest one that has it.
FAMILY_TYPES = {
    "sentence-transformers": "bert",
    "bge": "bert",
    "smollm": "llama",
    "m2m100": "m2m_100",
    "ast": "audio-spectrogram-transformer",
    "deberta": "deberta-v2",
}
TYPICAL_TYPE = {"encoder": "bert", "decoder": "llama", "encoder-decoder": "t5", "vision": "vit", "audio": "wav2vec2"}
SAMPLE_RATE = 16_000


def _int(config: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = config.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


@dataclass(frozen=True)
class Architecture:
    """The shapes that decide FLOPs, bytes and memory. Encoder-only models have decoder_layers 0, decoder-only
    models encoder_layers 0; encoder-decoder models have both (the decoder adds cross-attention)."""

    kind: str
    model_type: str
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    gated: bool
    vocab: int
    encoder_layers: int = 0
    decoder_layers: int = 0
    decoder_intermediate: int = 0
    experts: int = 1  # mixture of experts: experts per layer and the ones each token uses
    experts_active: int = 1
    tied: bool = True
    positions: int | None = None  # the longest sequence the model accepts
    image_size: int = 224
    patch_size: int = 16
    channels: int = 3
    conv: tuple[tuple[int, int, int], ...] = ()  # audio front end: (out channels, kernel, stride) per layer
    mel_bins: int = 80
    audio_positions: int = 1500  # whisper: encoder positions (3000 mel frames after a stride-2 convolution)
    lm_head: bool = False
    derived: str | None = None  # set when the shapes were derived from a parameter count, not read from a config

    @property
    def layers(self) -> int:
        return self.encoder_layers + self.decoder_layers

    @property
    def attention_width(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_width(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def attention_params(self) -> int:
        """Q and O projections at the query width, K and V at the key/value width (grouped-query attention)."""
        return 2 * self.hidden * self.attention_width + 2 * self.hidden * self.kv_width

    def mlp_params(self, intermediate: int | None = None) -> int:
        return (3 if self.gated else 2) * self.hidden * (intermediate or self.intermediate)

    @property
    def encoder_layer_params(self) -> int:
        return self.attention_params + self.mlp_params()

    @property
    def decoder_layer_params(self) -> int:
        """Self-attention, cross-attention for encoder-decoder models, and the MLP (all experts)."""
        cross = self.attention_params if self.kind == "encoder-decoder" or self.encoder_layers else 0
        mlp = self.mlp_params(self.decoder_intermediate or self.intermediate)
        return self.attention_params + cross + self.experts * mlp

    @property
    def decoder_active_params(self) -> int:
        """The matrix parameters one token touches in a decoder layer (its experts only)."""
        cross = self.attention_params if self.encoder_layers and self.decoder_layers else 0
        mlp = self.mlp_params(self.decoder_intermediate or self.intermediate)
        return self.attention_params + cross + self.experts_active * mlp

    @property
    def front_end_params(self) -> int:
        """Patch embedding (vision) or convolution front end (audio)."""
        if self.kind == "vision":
            return self.channels * self.patch_size**2 * self.hidden
        params, channels = 0, 1 if self.model_type != "whisper" else self.mel_bins
        for out, kernel, _ in self.conv:
            params += channels * out * kernel
            channels = out
        if self.conv and self.model_type != "whisper":
            params += channels * self.hidden  # feature projection
        return params

    @property
    def linears_per_layer(self) -> int:
        """Matmul calls (linear layers) in one self-attention layer: the Q, K, V projections (one fused call in
        FUSED_QKV_TYPES), the output projection, and the MLP's two (gated: three; a gated MLP with a fused
        gate/up projection in FUSED_MLP_TYPES: two). Each experts' MLP of a mixture counts once per active expert."""
        attention = 2 if self.model_type in FUSED_QKV_TYPES else 4
        mlp = 3 if self.gated and self.model_type not in FUSED_MLP_TYPES else 2
        return attention + self.experts_active * mlp

    @property
    def matrix_params(self) -> int:
        """Parameters in matrices outside the embeddings: what forward FLOPs are made of."""
        return (
            self.encoder_layers * self.encoder_layer_params
            + self.decoder_layers * self.decoder_layer_params
            + self.front_end_params
        )

    @property
    def embedding_params(self) -> int:
        position = (self.positions or 0) * self.hidden if self.model_type in ABSOLUTE_POSITION_TYPES else 0
        return self.vocab * self.hidden * (1 if self.tied or not self.lm_head else 2) + position

    @property
    def total_params(self) -> int:
        return self.matrix_params + self.embedding_params

    def tokens(self, seq_len: int, audio_seconds: float = 5.0) -> int:
        """Positions the encoder (or the only stack) runs over for a request of seq_len tokens."""
        if self.kind == "vision":
            extra = 2 if self.model_type == "deit" else (0 if self.model_type in NO_CLS_TYPES else 1)
            return (self.image_size // self.patch_size) ** 2 + extra
        if self.kind == "audio":
            if self.model_type == "whisper":
                return self.audio_positions
            return audio_frames(self.conv, audio_seconds)
        return seq_len

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ABSOLUTE_POSITION_TYPES = {
    "bert",
    "roberta",
    "distilbert",
    "electra",
    "albert",
    "xlm-roberta",
    "camembert",
    "gpt2",
    "bart",
    "mbart",
    "m2m_100",
    "marian",
    "pegasus",
    "whisper",
    "vit",
    "deit",
    "mpnet",
    "ernie",
    "opt",
    "gpt_neo",
    "beit",
}
NO_CLS_TYPES = {"siglip_vision_model"}
# Q, K and V in one linear layer (Hugging Face implementations), and gated MLPs whose gate and up are one
FUSED_QKV_TYPES = {"gpt2", "gpt_neox", "gpt_bigcode", "bloom", "falcon", "phi3", "mpt", "codegen"}
FUSED_MLP_TYPES = {"phi3"}


def audio_frames(conv: tuple[tuple[int, int, int], ...], seconds: float) -> int:
    length = int(seconds * SAMPLE_RATE)
    for _, kernel, stride in conv:
        length = max(1, (length - kernel) // stride + 1)
    return length


def kind_of(model_type: str, task: str | None, config: dict[str, Any] | None = None) -> str:
    config = config or {}
    if model_type in AUDIO_TYPES or (task in AUDIO_TASKS and model_type not in DECODER_TYPES):
        return "audio"
    if (
        model_type in VISION_TYPES
        or "patch_size" in config
        or (task in VISION_TASKS and model_type not in DECODER_TYPES)
    ):
        return "vision"
    if config.get("is_encoder_decoder") or model_type in ENCODER_DECODER_TYPES:
        return "encoder-decoder"
    if model_type in DECODER_TYPES or task == "text-generation":
        return "decoder"
    if task in SEQ2SEQ_TASKS:
        return "encoder-decoder"
    return "encoder"


def with_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """The config with its model type's default shapes under it (a `random:` spec names only what differs)."""
    if isinstance(config.get("text_config"), dict) and not _int(config, "hidden_size", "d_model", "n_embd"):
        inner = config["text_config"]
        config = {**inner, "model_type": inner.get("model_type", config.get("model_type"))}
    model_type = str(config.get("model_type") or "")
    base = dict(DEFAULTS.get(FAMILY_TYPES.get(model_type, model_type), {}))
    # Values transformers derives from others at init: recomputed from the config's own width and heads.
    if any(name in config for name in ("hidden_size", "d_model", "n_embd", "num_attention_heads", "n_head")):
        base.pop("head_dim", None)
    if any(name in config for name in ("num_attention_heads", "n_head", "num_heads")):
        base.pop("num_key_value_heads", None)
    return {**base, **config}


class UnsupportedConfigError(ValueError):
    """The config lacks the shapes this cost model needs (a CNN, or an unknown architecture)."""


def from_config(config: dict[str, Any], task: str | None = None) -> Architecture:
    """Normalise a Hugging Face config (dict) for `task`; raises UnsupportedConfigError without the shapes."""
    full = with_defaults(config)
    model_type = str(full.get("model_type") or "")
    hidden = _int(full, "hidden_size", "d_model", "n_embd", "dim")
    if model_type in ("swin", "convnext", "resnet", "regnet", "efficientnet", "mobilenet_v2") or hidden is None:
        raise UnsupportedConfigError(
            f"model type {model_type or '(none)'}: no transformer shapes in the config (hidden size, layers)"
        )
    kind = kind_of(model_type, task, full)
    heads = _int(full, "num_attention_heads", "n_head", "encoder_attention_heads", "num_heads", "n_heads") or max(
        1, hidden // 64
    )
    kv_heads = _int(full, "num_key_value_heads", "num_kv_heads") or (1 if full.get("multi_query") else heads)
    head_dim = _int(full, "head_dim", "d_kv") or hidden // heads
    intermediate = (
        _int(full, "intermediate_size", "n_inner", "d_ff", "encoder_ffn_dim", "ffn_dim", "hidden_dim") or 4 * hidden
    )
    if model_type in ("qwen2_moe", "qwen3_moe") and _int(full, "moe_intermediate_size"):
        intermediate = _int(full, "moe_intermediate_size") or intermediate
    activation = str(full.get("hidden_act") or full.get("activation_function") or full.get("feed_forward_proj") or "")
    gated = any(name in activation for name in GATED_ACTIVATIONS) and model_type not in ("gpt2", "bert")
    layers = _int(full, "num_hidden_layers", "n_layer", "n_layers", "num_layers")
    encoder_layers = decoder_layers = 0
    decoder_intermediate = 0
    if kind == "encoder-decoder" or (kind == "audio" and model_type == "whisper"):
        encoder_layers = _int(full, "encoder_layers", "num_layers", "num_hidden_layers") or 0
        decoder_layers = _int(full, "decoder_layers", "num_decoder_layers") or encoder_layers
        decoder_intermediate = _int(full, "decoder_ffn_dim") or 0
    elif kind == "decoder":
        decoder_layers = layers or 0
    else:
        encoder_layers = layers or 0
    if encoder_layers + decoder_layers == 0:
        raise UnsupportedConfigError(f"model type {model_type or '(none)'}: the config gives no number of layers")
    experts = _int(full, "num_local_experts", "num_experts") or 1
    experts_active = min(experts, _int(full, "num_experts_per_tok", "top_k") or (2 if experts > 1 else 1))
    conv: tuple[tuple[int, int, int], ...] = ()
    if model_type == "whisper":
        conv = ((hidden, 3, 1), (hidden, 3, 2))
    elif kind == "audio":
        dims, kernels, strides = full.get("conv_dim"), full.get("conv_kernel"), full.get("conv_stride")
        if isinstance(dims, list) and isinstance(kernels, list) and isinstance(strides, list):
            conv = tuple((int(d), int(k), int(s)) for d, k, s in zip(dims, kernels, strides, strict=False))
        else:
            conv = ((512, 10, 5),) + ((512, 3, 2),) * 4 + ((512, 2, 2),) * 2
    image = full.get("image_size")
    image_size = image if isinstance(image, int) else (max(image) if isinstance(image, list) and image else 224)
    patch = full.get("patch_size")
    patch_size = patch if isinstance(patch, int) else 16
    max_source = _int(full, "max_source_positions") or 1500
    return Architecture(
        kind=kind,
        model_type=model_type,
        hidden=hidden,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate=intermediate,
        gated=gated,
        vocab=_int(full, "vocab_size") or 0,
        encoder_layers=encoder_layers,
        decoder_layers=decoder_layers,
        decoder_intermediate=decoder_intermediate,
        experts=experts,
        experts_active=experts_active,
        tied=full.get("tie_word_embeddings", True) is not False,
        positions=_int(full, "max_position_embeddings", "n_positions", "max_source_positions"),
        image_size=image_size,
        patch_size=patch_size,
        channels=_int(full, "num_channels") or 3,
        conv=conv,
        mel_bins=_int(full, "num_mel_bins") or 80,
        audio_positions=max_source,
        lm_head=(task or "") in LM_HEAD_TASKS or (task is None and kind == "decoder"),
    )


def typical_type(model_type: str | None, task: str | None) -> str:
    """The model type whose default config gives the family's proportions."""
    if model_type:
        name = FAMILY_TYPES.get(model_type, model_type)
        if name in DEFAULTS:
            return name
    kind = kind_of(model_type or "", task)
    if kind == "audio" and task == "automatic-speech-recognition":
        return "whisper"
    return TYPICAL_TYPE[kind]


def derive(params: int, model_type: str | None, task: str | None) -> Architecture:
    """A typical shape for a model known only by its parameter count and model type (or family): width and depth
    scaled from the family's default config, keeping its depth-to-width ratio, so the total count matches."""
    base_type = typical_type(model_type, task)
    base = _base(base_type, task)
    h0, layers0 = base.hidden, base.layers
    per_h2 = (base.matrix_params - base.front_end_params) / (layers0 * h0 * h0)  # layer params / hidden^2
    depth_ratio = layers0 / h0
    vocab_per_h = base.embedding_params / h0  # embeddings grow linearly with the width

    def count(h: float) -> float:
        return per_h2 * depth_ratio * h**3 + vocab_per_h * h

    if params <= base.total_params:  # smaller than the default: as deep, narrower (SmolLM2-135M: 30 x 576)
        fixed = per_h2 * layers0

        def count(h: float) -> float:
            return fixed * h**2 + vocab_per_h * h

    low, high = 16.0, 65536.0
    if count(low) >= params:
        hidden = low
    else:
        for _ in range(48):  # bisection: count() is increasing in h
            mid = math.sqrt(low * high)
            if count(mid) < params:
                low = mid
            else:
                high = mid
        hidden = high
    head_dim = base.head_dim
    width = max(head_dim, round(hidden / head_dim) * head_dim)
    # Re-spread the count over whole layers at that width.
    layer_params = per_h2 * width * width
    remaining = max(params - vocab_per_h * width, layer_params)
    layers = max(1, round(remaining / layer_params))
    heads = max(1, width // head_dim)
    kv_heads = max(1, heads * base.kv_heads // base.heads)
    scale = width / h0
    enc, dec = base.encoder_layers, base.decoder_layers
    share_enc = enc / (enc + dec)
    encoder_layers = round(layers * share_enc) if enc else 0
    decoder_layers = layers - encoder_layers if dec else 0
    if enc and dec:
        encoder_layers, decoder_layers = max(1, encoder_layers), max(1, decoder_layers)
    return replace(
        base,
        hidden=width,
        heads=heads,
        kv_heads=kv_heads,
        intermediate=max(1, round(base.intermediate * scale)),
        decoder_intermediate=round(base.decoder_intermediate * scale),
        encoder_layers=encoder_layers,
        decoder_layers=decoder_layers,
        conv=tuple((max(1, round(c * scale)) if base_type == "whisper" else c, k, s) for c, k, s in base.conv),
        derived=(
            f"shapes derived from {params / 1e6:.0f}M params and {base_type}'s proportions "
            f"({layers} layers x {width} wide; no config read)"
        ),
    )


@functools.lru_cache(maxsize=256)
def _base(model_type: str, task: str | None) -> Architecture:
    return from_config({"model_type": model_type}, task)
