"""Plots: log axes only where values span more than 10x, Okabe-Ito colours, model text never read as mathtext."""

from __future__ import annotations

import base64

from bench import plots


def _png(plot: plots.Plot) -> bytes:
    data = base64.b64decode(plot.png_base64)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


def test_log_scale_rule() -> None:
    assert plots.wants_log([1.0, 11.0])
    assert not plots.wants_log([1.0, 10.0])
    assert not plots.wants_log([])


def test_palette_is_okabe_ito() -> None:
    assert set(plots.OKABE_ITO) == {
        "#E69F00",
        "#56B4E9",
        "#009E73",
        "#F0E442",
        "#0072B2",
        "#D55E00",
        "#CC79A7",
        "#000000",
    }


def test_each_plot_renders_with_awkward_names() -> None:
    name = "cost $5 $model_{x}"  # unbalanced $ would crash mathtext
    scatter = plots.accuracy_vs_latency(
        [plots.AccuracyPoint(name, 3.0, 0.8, (0.7, 0.9), True, 0.85), plots.AccuracyPoint("b", 300.0, 0.9, None, True)],
        metric="f1",
        higher_better=True,
        title=name,
    )
    assert "Pareto frontier: cost $5 $model_{x}, b" in scatter.alt
    _png(scatter)
    _png(plots.latency_distributions([(name, [1.0, 2.0, 3.0]), ("b", [100.0, 120.0])], title=name))
    _png(plots.throughput_vs_batch({name: [(1, 10.0), (8, 50.0)]}, title=name))
    _png(plots.memory_bars([(name, 100.0, None), ("b", None, 2000.0)], title=name))
