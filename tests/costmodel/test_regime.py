"""The regime of a phase (compute-bound or bandwidth-bound) comes from its ideal times at the calibrated rates, not
from the efficiencies being fitted. Values are computed by hand below."""

from __future__ import annotations

import pytest

from catalog.costmodel.fit import Fit, Observation, fit, ideal_ms, phase_ms, regime_of
from catalog.costmodel.machine import Profile

PROFILE = Profile("cpu", {"float32": 100.0}, 10.0, True, library="test", machine_id="m")  # 100 GFLOP/s, 10 GB/s


def test_regime_is_the_larger_ideal_time() -> None:
    assert regime_of(10.0, 8.0) == "compute"
    assert regime_of(1.0, 10.0) == "bandwidth"
    assert regime_of(5.0, 5.0) == "compute"  # a tie is compute-bound


def test_phase_time_uses_the_regime_of_its_ideal_times_whatever_the_efficiencies() -> None:
    # 1 GFLOP at 100 GFLOP/s = 10 ms; 80 MB at 10 GB/s = 8 ms: compute-bound
    assert ideal_ms(PROFILE, "float32", 1e9, 8e7) == pytest.approx((10.0, 8.0))
    fit_ = Fit("cpu", PROFILE, overhead_ms=0.1, call_overhead_ms=0.2)
    # a bandwidth efficiency of 40% would make the memory term 20 ms, above compute's 10 ms at 100%: still compute
    fit_.groups = {("decoder", "float32", "compute"): (1.0, 2), ("decoder", "float32", "bandwidth"): (0.4, 2)}
    ms, regime = phase_ms(fit_, "decoder", "float32", 1e9, 8e7, 2, 1)
    assert regime == "compute"
    assert ms == pytest.approx(10.0 + 2 * 0.1 + 0.2)
    # 0.1 GFLOP = 1 ms; 100 MB = 10 ms: bandwidth-bound, at the bandwidth efficiency even when the compute one is low
    fit_.groups[("decoder", "float32", "compute")] = (0.05, 2)  # 1 ms / 5% = 20 ms, not used
    ms, regime = phase_ms(fit_, "decoder", "float32", 1e8, 1e8, 2, 1)
    assert regime == "bandwidth"
    assert ms == pytest.approx(10.0 / 0.4 + 2 * 0.1 + 0.2)


def _observation(model: str, phase: str, flops: float, bytes_: float, measured: float) -> Observation:
    return Observation(model, 1, 64, "decoder", "float32", phase, flops, bytes_, 0, measured, calls=1)


def test_leaving_a_case_out_keeps_the_regime_of_the_others() -> None:
    """Each observation's group follows from its ideal times: the fit without one case keeps the others' groups."""
    observations = [
        _observation("a", "prefill", 2e9, 1e7, 40.0),  # 20 ms vs 1 ms: compute
        _observation("b", "prefill", 4e9, 1e7, 80.0),  # 40 ms vs 1 ms: compute
        _observation("a-decode", "decode", 1e8, 5e8, 100.0),  # 1 ms vs 50 ms: bandwidth
        _observation("b-decode", "decode", 1e8, 1e9, 200.0),  # 1 ms vs 100 ms: bandwidth
    ]
    everything = fit(observations, PROFILE)
    assert {key[2]: runs for key, (_, runs) in everything.groups.items()} == {"compute": 2, "bandwidth": 2}
    for left_out in ("a", "b", "a-decode", "b-decode"):
        without = fit(observations, PROFILE, exclude=(left_out, 1, 64))
        regimes = {key[2]: runs for key, (_, runs) in without.groups.items()}
        assert sum(regimes.values()) == 3 and set(regimes) == {"compute", "bandwidth"}
    # each measured at twice its regime's ideal time: both efficiencies near 50% (pulled a little to the priors)
    assert everything.efficiency("decoder", "float32", "compute").value == pytest.approx(0.5, abs=0.05)
    assert everything.efficiency("decoder", "float32", "bandwidth").value == pytest.approx(0.5, abs=0.05)
