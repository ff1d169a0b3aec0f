"""FLOPs and bytes of the work a request makes, per phase, from an Architecture.

Conventions (the tests check them against hand-computed values):
- a multiply-add is 2 FLOPs; norms, softmax, activations, biases and embedding look-ups are not counted;
- a stack of layers over T positions: 2·T·(matrix parameters of a layer) per layer, plus attention scores
  Q·Kᵀ and A·V: 4·T²·(heads·head_dim) per layer (the full square, as eager and SDPA kernels on CPU compute it);
- grouped-query attention shrinks the K and V projections (kv_heads·head_dim wide) and the KV cache, not the scores;
- the LM head (2·positions·vocab·hidden) counts where the task computes logits over the vocabulary;
- a decode step at context c: 2·(active matrix parameters) + 4·c·(heads·head_dim) per layer + the LM head; it reads
  every weight it uses once and the whole KV cache, which is why decoding is bound by memory bandwidth;
- encoder-decoder prefill: the encoder over the input, the cross-attention K/V projections of every decoder
  layer over the encoder output, and the first decoder step; each later step attends to its own past and to the
  encoder output;
- vision: the patches (plus the class token) are the positions and the patch projection is a matrix;
  audio: a convolution front end turns samples (wav2vec2) or 3,000 mel frames (Whisper, 1,500 positions) into
  positions;
- each phase counts its matmul calls (linear layers and the LM head; one decode step calls every one once): a
  call costs a fixed time besides its FLOPs, measured per dtype by the calibration (bfloat16 on a CPU: tens of
  microseconds, several times float32's), which a decode step of a small model pays dozens of times;
- each phase also splits its FLOPs by the rows of the matmuls that do them (`parts`: [rows, FLOPs]): the linear
  layers see batch x positions rows in a forward and batch rows in a decode step, attention sees each sequence's
  own positions (one query row per step when decoding). A matmul of few rows runs far below the peak (a decode step
  at batch 1 is a matrix-vector product), and the machine's calibrated rate by rows prices each part.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from catalog.costmodel.arch import SAMPLE_RATE, Architecture

BYTES_PER_PARAM: dict[str, float] = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "int4": 0.5}
GENERATION_TASKS = {"text-generation", "text2text-generation", "summarization", "translation"}
CROSS_LAYER = 1.5  # a decoder layer with cross-attention runs three blocks where others run two: 1.5 layer calls


@dataclass
class Phase:
    """One kind of work: FLOPs and bytes moved (all calls together), and how many layer calls it makes (each costs
    the framework a fixed time, which dominates small models)."""

    name: str
    flops: float
    bytes: float
    layer_calls: float
    calls: int = 1  # forwards in the phase (decode: new_tokens - 1 steps)
    # [matmul rows, FLOPs] summing to `flops` (empty in terms stored before rows were modelled: all at the peak)
    parts: list[list[float]] = field(default_factory=list)
    matmuls: float = 0  # matmul calls (linear layers, the LM head), all calls together: each has a fixed cost

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _parts(*pairs: tuple[float, float]) -> list[list[float]]:
    """[rows, FLOPs] pairs, one per distinct row count, zero-FLOP pairs dropped, fewest rows first."""
    merged: dict[float, float] = {}
    for rows, flops in pairs:
        if flops > 0:
            merged[float(rows)] = merged.get(float(rows), 0.0) + flops
    return [[rows, merged[rows]] for rows in sorted(merged)]


def _scaled(parts: list[list[float]], factor: float) -> list[list[float]]:
    return [[rows, flops * factor] for rows, flops in parts]


def stack_flops(
    layer_params: float, positions: int, layers: int, attention_width: int, context: int | None = None
) -> float:
    """A stack of `layers` layers over `positions` positions attending to `context` positions (default: themselves)."""
    context = positions if context is None else context
    return layers * (2.0 * positions * layer_params + 4.0 * positions * context * attention_width)


def front_end_flops(arch: Architecture, batch: int, audio_seconds: float = 5.0) -> float:
    if arch.kind == "vision":
        patches = (arch.image_size // arch.patch_size) ** 2
        return 2.0 * batch * patches * arch.front_end_params
    if arch.kind != "audio":
        return 0.0
    flops = 0.0
    if arch.model_type == "whisper":
        frames, channels = 2 * arch.audio_positions, arch.mel_bins
    else:
        frames, channels = int(audio_seconds * SAMPLE_RATE), 1
    for out, kernel, stride in arch.conv:
        frames = max(1, (frames - kernel) // stride + 1) if arch.model_type != "whisper" else frames // stride
        flops += 2.0 * frames * channels * out * kernel
        channels = out
    if arch.model_type != "whisper":
        flops += 2.0 * frames * channels * arch.hidden  # feature projection
    return batch * flops


def lm_head_flops(arch: Architecture, positions: int) -> float:
    return 2.0 * positions * arch.vocab * arch.hidden if arch.lm_head and arch.vocab else 0.0


def weight_bytes(arch: Architecture, dtype: str) -> float:
    return arch.total_params * BYTES_PER_PARAM[dtype]


def kv_cache_bytes(arch: Architecture, batch: int, context: int, dtype: str, encoder_positions: int = 0) -> float:
    """Keys and values of every decoder layer at `context` positions (and the cross-attention cache)."""
    per_position = 2 * arch.decoder_layers * arch.kv_width * BYTES_PER_PARAM[dtype]
    cross = encoder_positions if arch.encoder_layers and arch.decoder_layers else 0
    return float(batch * per_position * (context + cross))


def stack_parts(
    layer_params: float, batch: int, positions: int, layers: int, attention_width: int, context: int | None = None
) -> list[tuple[float, float]]:
    """batch x stack_flops split by matmul rows: the linear layers over batch x positions rows, the attention
    scores over each sequence's positions."""
    context = positions if context is None else context
    linear = batch * layers * 2.0 * positions * layer_params
    attention = batch * layers * 4.0 * positions * context * attention_width
    return [(batch * positions, linear), (positions, attention)]


def encoder_forward(arch: Architecture, batch: int, positions: int, audio_seconds: float) -> tuple[float, float]:
    """FLOPs and weight bytes of the encoder stack (with its front end)."""
    flops = batch * stack_flops(arch.encoder_layer_params, positions, arch.encoder_layers, arch.attention_width)
    flops += front_end_flops(arch, batch, audio_seconds)
    params = arch.encoder_layers * arch.encoder_layer_params + arch.front_end_params
    return flops, float(params)


def encoder_parts(arch: Architecture, batch: int, positions: int, audio_seconds: float) -> list[tuple[float, float]]:
    """encoder_forward's FLOPs by matmul rows (the front end over batch x positions rows)."""
    parts = stack_parts(arch.encoder_layer_params, batch, positions, arch.encoder_layers, arch.attention_width)
    return [*parts, (batch * positions, front_end_flops(arch, batch, audio_seconds))]


def decoder_step(arch: Architecture, batch: int, context: int, encoder_positions: int = 0) -> tuple[float, float]:
    """FLOPs and matrix parameters read by one decoder step (one new position per sequence) at `context` past
    positions (itself included), attending also to `encoder_positions` encoder outputs in encoder-decoder models."""
    cross = arch.encoder_layers > 0 and arch.decoder_layers > 0
    # cross-attention K/V of the encoder output are computed in the first step (see prefill), not here
    cross_kv = 2 * arch.hidden * arch.kv_width if cross else 0
    params = arch.decoder_active_params - cross_kv
    per_layer = 2.0 * params + 4.0 * context * arch.attention_width
    if cross:
        per_layer += 4.0 * encoder_positions * arch.attention_width
    flops = batch * (arch.decoder_layers * per_layer + lm_head_flops(arch, 1))
    touched = arch.decoder_layers * params
    if arch.experts > 1:  # a batch touches more experts than one token does
        mlp = arch.mlp_params(arch.decoder_intermediate or arch.intermediate)
        touched += arch.decoder_layers * mlp * (min(arch.experts, arch.experts_active * batch) - arch.experts_active)
    head = arch.vocab * arch.hidden if arch.lm_head else 0
    return flops, float(touched + head)


def stack_matmuls(arch: Architecture, *, encoder: bool, decoder: bool, cached_cross: bool = False) -> float:
    """Matmul calls of one forward through the encoder and/or decoder stack and the LM head. A decoder layer with
    cross-attention adds its Q, K, V and O projections, or only Q and O once the encoder's K and V are cached."""
    calls = arch.encoder_layers * arch.linears_per_layer if encoder else 0
    if decoder:
        cross = (2 if cached_cross else 4) if arch.encoder_layers and arch.decoder_layers else 0
        calls += arch.decoder_layers * (arch.linears_per_layer + cross)
    return float(calls + (1 if arch.lm_head else 0))


def decoder_step_parts(
    arch: Architecture, batch: int, context: float, encoder_positions: int = 0
) -> list[tuple[float, float]]:
    """decoder_step's FLOPs by matmul rows: the linear layers and the LM head see one row per sequence (batch
    rows), attention one query row against the cache."""
    flops, _ = decoder_step(arch, batch, context, encoder_positions)  # type: ignore[arg-type]
    attention = batch * arch.decoder_layers * 4.0 * context * arch.attention_width
    if arch.encoder_layers > 0:
        attention += batch * arch.decoder_layers * 4.0 * encoder_positions * arch.attention_width
    return [(batch, flops - attention), (1, attention)]


def phases(
    arch: Architecture,
    task: str,
    batch: int,
    seq_len: int,
    dtype: str,
    *,
    new_tokens: int = 16,
    audio_seconds: float = 5.0,
) -> list[Phase]:
    """The work of one timed iteration of `catalog bench run` for this task and shape, phase by phase: `forward`
    for a single pass, or `prefill` then `decode` (new_tokens - 1 steps) for generation tasks."""
    from catalog.costmodel.arch import LM_HEAD_TASKS

    if arch.lm_head != (task in LM_HEAD_TASKS or (arch.kind == "decoder" and task in GENERATION_TASKS)):
        arch = replace(arch, lm_head=not arch.lm_head)  # the task decides whether logits over the vocabulary run
    size = BYTES_PER_PARAM[dtype]
    positions = arch.tokens(seq_len, audio_seconds)
    generating = task in GENERATION_TASKS and arch.decoder_layers > 0
    head = (batch * positions, batch * lm_head_flops(arch, positions))
    if arch.decoder_layers == 0:  # encoder-only, vision, audio encoders
        flops, params = encoder_forward(arch, batch, positions, audio_seconds)
        flops += batch * lm_head_flops(arch, positions)
        params += arch.vocab * arch.hidden if arch.lm_head else 0
        parts = _parts(*encoder_parts(arch, batch, positions, audio_seconds), head)
        matmuls = stack_matmuls(arch, encoder=True, decoder=False)
        return [Phase("forward", flops, params * size, arch.layers + 1, parts=parts, matmuls=matmuls)]
    if arch.encoder_layers == 0:  # decoder-only
        flops = batch * stack_flops(arch.decoder_active_params, positions, arch.decoder_layers, arch.attention_width)
        flops += batch * lm_head_flops(arch, positions)
        params = arch.decoder_layers * arch.decoder_layer_params + (arch.vocab * arch.hidden if arch.lm_head else 0)
        bytes_ = params * size + kv_cache_bytes(arch, batch, positions, dtype)  # the cache is written once
        stack = stack_parts(arch.decoder_active_params, batch, positions, arch.decoder_layers, arch.attention_width)
        first = Phase(
            "prefill" if generating else "forward",
            flops,
            bytes_,
            arch.layers + 1,
            parts=_parts(*stack, head),
            matmuls=stack_matmuls(arch, encoder=False, decoder=True),
        )
        if not generating:
            return [first]
        return [first, _decode(arch, batch, positions, 0, new_tokens, dtype)]
    # encoder-decoder (text, or Whisper's audio encoder): encoder, cross K/V over its output, first decoder step
    flops, params = encoder_forward(arch, batch, positions, audio_seconds)
    cross_kv = 2 * arch.hidden * arch.kv_width
    cross_flops = batch * arch.decoder_layers * 2.0 * positions * cross_kv
    flops += cross_flops
    step_flops, step_params = decoder_step(arch, batch, 1, positions)
    weights = (params + arch.decoder_layers * cross_kv + step_params) * size
    parts = _parts(
        *encoder_parts(arch, batch, positions, audio_seconds),
        (batch * positions, cross_flops),
        *decoder_step_parts(arch, batch, 1, positions),
    )
    first = Phase(
        "prefill" if generating else "forward",
        flops + step_flops,
        weights + kv_cache_bytes(arch, batch, 1, dtype, positions),
        arch.encoder_layers + CROSS_LAYER * arch.decoder_layers + 2,  # each stack also embeds and normalises
        calls=2 if generating else 1,  # generation calls the encoder, then the decoder's first step
        parts=parts,
        matmuls=stack_matmuls(arch, encoder=True, decoder=True),
    )
    if not generating:
        return [first]
    return [first, _decode(arch, batch, 1, positions, new_tokens, dtype)]


def _decode(arch: Architecture, batch: int, start: int, encoder_positions: int, new_tokens: int, dtype: str) -> Phase:
    """new_tokens - 1 decode steps, the context growing from start + 1."""
    steps = max(0, new_tokens - 1)
    if steps == 0:
        return Phase("decode", 0.0, 0.0, 0, calls=0)
    size = BYTES_PER_PARAM[dtype]
    # FLOPs and bytes of a step are linear in its context (start + 1 ... start + steps): the sum over the steps is
    # the number of steps times the step at the mean context.
    mean_context = start + (steps + 1) / 2
    step_flops, params = decoder_step(arch, batch, mean_context, encoder_positions)  # type: ignore[arg-type]
    kv = kv_cache_bytes(arch, batch, mean_context, dtype, encoder_positions)  # type: ignore[arg-type]
    return Phase(
        "decode",
        steps * step_flops,
        steps * (params * size + kv),
        steps * ((CROSS_LAYER if arch.encoder_layers else 1) * arch.decoder_layers + 1),
        calls=steps,
        parts=_scaled(_parts(*decoder_step_parts(arch, batch, mean_context, encoder_positions)), steps),
        matmuls=steps * stack_matmuls(arch, encoder=False, decoder=True, cached_cross=True),
    )
