"""Small matmuls and the per-layer costs of decode steps: the FLOPs of each phase split by the rows of their
matmuls, the matmul calls each phase makes, the calibrated rate by rows and cost per call, and the fit's overheads
by kind and dtype. Values are computed by hand below."""

from __future__ import annotations

import math

import pytest

from catalog.costmodel.arch import from_config
from catalog.costmodel.counts import phases
from catalog.costmodel.fit import Fit, Observation, fit, ideal_ms, phase_ms
from catalog.costmodel.machine import Profile

TINY_BERT = {"model_type": "bert", "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
             "intermediate_size": 1024, "vocab_size": 8000}  # fmt: skip
TINY_LLAMA = {"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 8,
              "num_key_value_heads": 2, "intermediate_size": 688, "vocab_size": 8000}  # fmt: skip
TINY_GPT2 = {"model_type": "gpt2", "n_embd": 256, "n_layer": 4, "n_head": 4, "vocab_size": 8000}
TINY_T5 = {"model_type": "t5", "d_model": 256, "num_layers": 3, "num_decoder_layers": 3, "d_ff": 1024,
           "num_heads": 4, "d_kv": 64, "vocab_size": 8000, "is_encoder_decoder": True}  # fmt: skip

LLAMA_LAYER = 2 * 256 * 256 + 2 * 256 * 64 + 3 * 256 * 688  # Q, O at 256; K, V at 2 heads x 32; gate, up, down
BERT_LAYER = 4 * 256 * 256 + 2 * 256 * 1024


def test_forward_flops_split_by_rows() -> None:
    arch = from_config(TINY_BERT, "feature-extraction")
    (forward,) = phases(arch, "feature-extraction", 8, 32, "float32")
    # linear layers over 8 x 32 = 256 rows; attention over each sequence's 32 positions
    linear = 8 * 4 * 2 * 32 * BERT_LAYER
    attention = 8 * 4 * 4 * 32 * 32 * 256
    assert forward.parts == [[32.0, attention], [256.0, linear]]
    assert sum(f for _, f in forward.parts) == forward.flops


def test_decode_step_is_batch_rows_and_one_query_row() -> None:
    arch = from_config(TINY_LLAMA, "text-generation")
    prefill, decode = phases(arch, "text-generation", 4, 64, "float32", new_tokens=3)
    head = 2 * 8000 * 256
    # prefill: linear layers and the LM head over 4 x 64 rows, attention over 64 query rows
    assert prefill.parts == [[64.0, 4 * 4 * 4 * 64 * 64 * 256], [256.0, 4 * (4 * 2 * 64 * LLAMA_LAYER + 64 * head)]]
    # two decode steps at contexts 65 and 66: the linear layers and the LM head see 4 rows, attention one
    attention = sum(4 * 4 * 4 * c * 256 for c in (65, 66))
    assert decode.parts == [[1.0, attention], [4.0, 2 * 4 * (4 * 2 * LLAMA_LAYER + head)]]
    assert sum(f for _, f in decode.parts) == pytest.approx(decode.flops)


def test_matmul_calls_per_phase() -> None:
    llama = from_config(TINY_LLAMA, "text-generation")
    assert llama.linears_per_layer == 7  # q, k, v, o, gate, up, down
    prefill, decode = phases(llama, "text-generation", 1, 64, "float32", new_tokens=5)
    assert prefill.matmuls == 4 * 7 + 1  # and the LM head
    assert decode.matmuls == 4 * (4 * 7 + 1)  # four steps
    gpt2 = from_config(TINY_GPT2, "text-generation")
    assert gpt2.linears_per_layer == 4  # fused c_attn, c_proj, c_fc, mlp c_proj
    bert = from_config(TINY_BERT, "feature-extraction")
    (forward,) = phases(bert, "feature-extraction", 2, 32, "float32")
    assert forward.matmuls == 4 * 6  # no LM head for features
    t5 = from_config(TINY_T5, "text2text-generation")
    prefill, decode = phases(t5, "text2text-generation", 1, 64, "float32", new_tokens=3)
    # encoder 3 x 6; decoder 3 x (6 + cross q, k, v, o); LM head; later steps reuse the cross K/V: q and o only
    assert prefill.matmuls == 3 * 6 + 3 * (6 + 4) + 1
    assert decode.matmuls == 2 * (3 * (6 + 2) + 1)
    # layer calls: a decoder layer with cross-attention counts 1.5, and each of the two stacks one more (embedding,
    # final norm); a decode step runs the decoder stack only
    assert prefill.layer_calls == 3 + 1.5 * 3 + 2 and prefill.calls == 2
    assert decode.layer_calls == 2 * (1.5 * 3 + 1)


PROFILE = Profile(
    "cpu",
    {"float32": 100.0, "bfloat16": 50.0},
    10.0,
    True,
    library="test",
    rows_curve={"float32": [(1.0, 10.0), (4.0, 20.0), (64.0, 80.0)]},
    matmul_call_us={"bfloat16": 25.0, "float32": 2.0},
)


def test_rate_by_rows_interpolates_in_log_rows() -> None:
    assert PROFILE.peak_at("float32", 1) == 10.0
    assert PROFILE.peak_at("float32", 2) == pytest.approx(15.0)  # halfway between 1 and 4 in log rows
    assert PROFILE.peak_at("float32", 16) == pytest.approx(50.0)  # halfway between 4 and 64
    # from the last point to the square-matmul peak at 2048 rows, then the peak
    t = (math.log(256) - math.log(64)) / (math.log(2048) - math.log(64))
    assert PROFILE.peak_at("float32", 256) == pytest.approx(80.0 + t * 20.0)
    assert PROFILE.peak_at("float32", 10_000) == 100.0
    assert PROFILE.peak_at("bfloat16", 1) == 50.0  # no curve for the dtype: its peak
    assert PROFILE.peak_at("float32", 0) == 100.0  # rows unknown (terms stored before rows were modelled)
    assert PROFILE.matmul_call_ms("bfloat16") == 0.025 and PROFILE.matmul_call_ms("float16") == 0.0


def test_ideal_time_prices_each_part_at_its_rate() -> None:
    # 1 GFLOP at 1 row (10 GFLOP/s) + 2 GFLOP at 16 rows (50 GFLOP/s) = 100 ms + 40 ms; 1 GB at 10 GB/s
    compute, bandwidth = ideal_ms(PROFILE, "float32", 3e9, 1e9, parts=[[1, 1e9], [16, 2e9]])
    assert compute == pytest.approx(140.0) and bandwidth == pytest.approx(100.0)
    # without parts: all at the peak
    assert ideal_ms(PROFILE, "float32", 3e9, 1e9)[0] == pytest.approx(30.0)


def test_phase_time_adds_the_calibrated_cost_per_matmul_call() -> None:
    fit_ = Fit("cpu", PROFILE, overhead_ms=0.1, call_overhead_ms=0.2)
    fit_.groups = {("decoder", "bfloat16", "compute"): (0.5, 3), ("decoder", "bfloat16", "bandwidth"): (1.0, 3)}
    ms, regime = phase_ms(fit_, "decoder", "bfloat16", 1e8, 1e6, 5, 1, (), 29)
    # 0.1 GFLOP at 50 GFLOP/s x 50% = 4 ms; 5 layer calls x 0.1 + 1 forward x 0.2 + 29 matmul calls x 25 µs
    assert regime == "compute"
    assert ms == pytest.approx(4.0 + 0.5 + 0.2 + 29 * 0.025)


def _synthetic(kind: str, config: dict, task: str, layer_ms: float, name: str, batch: int, seq: int) -> list:
    """Observations of a machine at 70% of the rate for each part's rows (no bandwidth term), `layer_ms` per
    layer call, 0.3 ms per forward and the profile's cost per matmul call."""
    arch = from_config(config, task)
    out = []
    for phase in phases(arch, task, batch, seq, "float32", new_tokens=8):
        compute, _ = ideal_ms(PROFILE, "float32", phase.flops, phase.bytes, phase.calls, phase.parts)
        measured = compute / 0.7 + layer_ms * phase.layer_calls + 0.3 * phase.calls + phase.matmuls * 0.002
        parts = tuple((r, f) for r, f in phase.parts)
        out.append(Observation(name, batch, seq, kind, "float32", phase.name, phase.flops, phase.bytes,
                               phase.layer_calls, measured, calls=phase.calls, parts=parts,
                               matmuls=phase.matmuls))  # fmt: skip
    return out


def test_fit_recovers_overheads_from_decoders_and_encoders() -> None:
    """With the rate by rows and the matmul calls known, the fit finds the machine's efficiency and overheads from
    forwards and decode steps together, and models every observation within 10%."""
    observations = []
    for batch in (1, 4):
        for seq in (16, 64, 256):
            observations += _synthetic("encoder", TINY_BERT, "feature-extraction", 0.4, f"b{batch}{seq}", batch, seq)
            observations += _synthetic("decoder", TINY_LLAMA, "text-generation", 0.4, f"l{batch}{seq}", batch, seq)
    result = fit(observations, PROFILE)
    assert result.overhead_ms == pytest.approx(0.4, rel=0.15)
    assert result.efficiency("decoder", "float32", "compute").value == pytest.approx(0.7, rel=0.15)
    for o in observations:
        modelled, _ = phase_ms(result, o.kind, o.dtype, o.flops, o.bytes, o.layer_calls, o.calls, o.parts, o.matmuls)
        assert modelled == pytest.approx(o.measured_ms, rel=0.1)
