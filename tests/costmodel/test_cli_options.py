"""catalog estimate and catalog bench run share their model/shape options and the one numeric parser; durations
are printed in a readable unit everywhere."""

from __future__ import annotations

import pytest

from catalog.output import human_duration


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, "—"),
        (0, "0 ms"),
        (0.0425, "42.5 µs"),
        (0.5, "0.5 ms"),
        (4.25, "4.25 ms"),
        (425.3, "425 ms"),
        (4250, "4.25 s"),
        (42_500, "42.5 s"),
        (425_000, "7.08 min"),
        (3 * 3600e3, "3 h"),
        (3 * 86400e3, "3 d"),
    ],
)
def test_human_duration(ms: float | None, text: str) -> None:
    assert human_duration(ms) == text


def test_human_duration_never_writes_an_exponent() -> None:
    value = 1e-6
    while value < 1e12:
        text = human_duration(value)
        assert "e+" not in text and "e-" not in text, (value, text)
        number, unit = text.split(" ")
        assert unit in ("µs", "ms", "s", "min", "h", "d") and float(number) > 0
        value *= 3.7


def test_estimate_and_bench_run_share_the_model_and_shape_options() -> None:
    from catalog.cli.bench import run_command
    from catalog.cli.estimate import estimate_command

    shared = ("models", "task", "batch_sizes", "seq_lens", "device", "dtype", "threads", "new_tokens")

    def options(command):  # type: ignore[no-untyped-def]
        return {p.name: p for p in command.params}

    estimate, run = options(estimate_command), options(run_command)
    for name in shared:
        a, b = estimate[name], run[name]
        assert a.opts == b.opts and type(a.type) is type(b.type) and a.default == b.default, name
    assert estimate["new_tokens"].type.integer and estimate["threads"].type.integer


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--new-tokens", "1e3"), "--new-tokens must be a whole number"),
        (("--new-tokens", "0"), "--new-tokens must be a whole number"),
        (("--new-tokens", "99999999999999999999999"), "--new-tokens"),
        (("--threads", "nan"), "--threads must be a whole number"),
        (("--threads", "-2"), "--threads must be a whole number"),
        (("--batch-sizes", "1,1_000"), "--batch-sizes takes comma-separated positive integers"),
        (("--seq-lens", "4194304"), "--seq-lens values must be at most 1,048,576"),
    ],
)
def test_estimate_refuses_bad_numbers_in_one_line(run_cli, args: tuple[str, ...], words: str) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("estimate", "--model", "random:bert,hidden_size=64", *args)
    assert result.code != 0 and words in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
