"""Report plots with matplotlib's Agg canvas (no display, no pyplot state): each returns a base64 PNG.

Readable at a glance: axes name their units, a log axis where values span more than 10x, the Okabe-Ito palette
(safe for the common colour-vision deficiencies) with distinct markers as a second cue, the Pareto frontier drawn
and labelled.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Okabe & Ito (2008), "Color Universal Design": black last, yellow late (weak on white).
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LOG_SPAN = 10.0
DPI = 100


@dataclass(frozen=True)
class Plot:
    title: str
    alt: str
    png_base64: str
    width: int
    height: int

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + self.png_base64


@dataclass(frozen=True)
class AccuracyPoint:
    label: str
    latency_ms: float
    value: float
    ci: tuple[float, float] | None = None
    on_front: bool = False
    reported: float | None = None


def _text(value: str) -> str:
    """Model text as a literal label: matplotlib reads $...$ as mathtext."""
    return value.replace("$", r"\$")


def wants_log(values: Sequence[float]) -> bool:
    positive = [v for v in values if v and v > 0]
    return bool(positive) and max(positive) / min(positive) > LOG_SPAN


def _horizontal() -> dict[str, Any]:
    """boxplot's orientation argument is new in matplotlib 3.10 (vert=False is deprecated there)."""
    import matplotlib

    major, minor = (int(part) for part in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _style(axes: Any) -> None:
    axes.grid(True, which="major", color="#dddddd", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _finish(figure: Any, title: str, alt: str) -> Plot:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    width, height = (round(v) for v in figure.get_size_inches() * DPI)
    return Plot(title, alt, base64.b64encode(buffer.getvalue()).decode("ascii"), width, height)


def accuracy_vs_latency(points: Sequence[AccuracyPoint], *, metric: str, higher_better: bool, title: str) -> Plot:
    figure = _figure(9.5, 5.2)
    axes = figure.add_subplot()
    _style(axes)
    for i, point in enumerate(points):
        colour, marker = OKABE_ITO[i % len(OKABE_ITO)], MARKERS[i % len(MARKERS)]
        if point.ci is not None:
            low, high = point.ci
            axes.errorbar(
                point.latency_ms,
                point.value,
                yerr=[[max(point.value - low, 0)], [max(high - point.value, 0)]],
                fmt="none",
                ecolor=colour,
                elinewidth=1.2,
                capsize=3,
            )
        axes.scatter(
            point.latency_ms,
            point.value,
            s=70,
            color=colour,
            marker=marker,
            zorder=3,
            edgecolors="black" if point.on_front else "none",
            linewidths=1.0,
            label=_text(point.label),
        )
        if point.reported is not None:
            axes.scatter(
                point.latency_ms,
                point.reported,
                s=70,
                facecolors="none",
                edgecolors=colour,
                marker=marker,
                linewidths=1.4,
                zorder=3,
            )
        axes.annotate(
            _text(point.label), (point.latency_ms, point.value), textcoords="offset points", xytext=(6, 6), fontsize=8
        )
    front = sorted((p for p in points if p.on_front), key=lambda p: p.latency_ms)
    if front:
        xs, ys = [p.latency_ms for p in front], [p.value for p in front]
        axes.plot(
            xs,
            ys,
            drawstyle="steps-post",
            color="#444444",
            linestyle="--",
            linewidth=1.3,
            zorder=2,
            label="Pareto frontier",
        )
        axes.annotate(
            "Pareto frontier",
            (xs[-1], ys[-1]),
            textcoords="offset points",
            xytext=(6, -12),
            fontsize=8,
            color="#444444",
            style="italic",
        )
    if any(p.reported is not None for p in points):
        axes.scatter([], [], s=70, facecolors="none", edgecolors="#444444", label="hollow: reported (model card)")
    latencies = [p.latency_ms for p in points]
    log = wants_log(latencies)
    if log:
        axes.set_xscale("log")
    axes.set_xlabel("p50 latency per batch (ms" + (", log scale)" if log else ")"))
    better = "higher is better" if higher_better else "lower is better"
    axes.set_ylabel(f"{_text(metric)} ({better})")
    axes.set_title(_text(title), fontsize=11)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    alt = f"Scatter of {metric} against p50 latency for {len(points)} model(s); Pareto frontier: " + ", ".join(
        p.label for p in front
    )
    return _finish(figure, title, alt)


def latency_distributions(series: Sequence[tuple[str, Sequence[float]]], *, title: str) -> Plot:
    """One horizontal box per (model, shape) from its raw samples: median, quartiles, whiskers at 1.5 IQR."""
    height = max(2.4, 0.45 * len(series) + 1.4)
    figure = _figure(8.0, height)
    axes = figure.add_subplot()
    _style(axes)
    labels = [_text(name) for name, _ in series]
    boxes = axes.boxplot(
        [list(samples) for _, samples in series],
        **_horizontal(),
        patch_artist=True,
        widths=0.6,
        showfliers=True,
        flierprops={"markersize": 2.5, "alpha": 0.5},
        medianprops={"color": "black", "linewidth": 1.5},
    )
    for i, patch in enumerate(boxes["boxes"]):
        patch.set_facecolor(OKABE_ITO[i % len(OKABE_ITO)])
        patch.set_alpha(0.75)
    axes.set_yticks(range(1, len(labels) + 1), labels, fontsize=8)
    axes.invert_yaxis()
    values = [v for _, samples in series for v in samples]
    log = wants_log(values)
    if log:
        axes.set_xscale("log")
    axes.set_xlabel("latency per iteration (ms" + (", log scale)" if log else ")"))
    axes.set_title(_text(title), fontsize=11)
    alt = f"Box plots of latency samples for {len(series)} model/shape combination(s)"
    return _finish(figure, title, alt)


def throughput_vs_batch(lines: dict[str, list[tuple[int, float]]], *, title: str) -> Plot:
    figure = _figure(9.5, 4.5)
    axes = figure.add_subplot()
    _style(axes)
    for i, (name, points) in enumerate(lines.items()):
        points = sorted(points)
        axes.plot(
            [b for b, _ in points],
            [t for _, t in points],
            marker=MARKERS[i % len(MARKERS)],
            color=OKABE_ITO[i % len(OKABE_ITO)],
            linewidth=1.6,
            label=_text(name),
        )
    batches = sorted({b for points in lines.values() for b, _ in points})
    if wants_log([float(b) for b in batches]):
        axes.set_xscale("log", base=2)
    axes.set_xticks(batches, [str(b) for b in batches])
    rates = [t for points in lines.values() for _, t in points]
    log = wants_log(rates)
    if log:
        axes.set_yscale("log")
    axes.set_xlabel("batch size (items per forward pass)")
    axes.set_ylabel("throughput (items/s" + (", log scale)" if log else ")"))
    axes.set_title(_text(title), fontsize=11)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _finish(figure, title, f"Throughput against batch size for {len(lines)} model(s)")


def memory_bars(bars: Sequence[tuple[str, float | None, float | None]], *, title: str) -> Plot:
    """Peak RSS after loading and during inference, side by side per model."""
    height = max(2.4, 0.5 * len(bars) + 1.4)
    figure = _figure(8.0, height)
    axes = figure.add_subplot()
    _style(axes)
    positions = list(range(len(bars)))
    thickness = 0.38
    load = [b[1] or 0.0 for b in bars]
    infer = [b[2] or 0.0 for b in bars]
    axes.barh([p - thickness / 2 for p in positions], load, height=thickness, color=OKABE_ITO[5], label="after load")
    axes.barh(
        [p + thickness / 2 for p in positions], infer, height=thickness, color=OKABE_ITO[0], label="during inference"
    )
    for p, value in zip(positions, infer, strict=True):
        if value:
            axes.annotate(
                f"{value:.0f}", (value, p + thickness / 2), textcoords="offset points", xytext=(3, -3), fontsize=7
            )
    axes.set_yticks(positions, [_text(b[0]) for b in bars], fontsize=8)
    axes.invert_yaxis()
    log = wants_log(load + infer)
    if log:
        axes.set_xscale("log")
    axes.set_xlabel("peak resident memory (MiB" + (", log scale)" if log else ")"))
    axes.set_title(_text(title), fontsize=11)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _finish(figure, title, f"Peak memory bars for {len(bars)} model(s)")
