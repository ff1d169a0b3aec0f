"""Listing tables fitted to the terminal (catalog.output): columns chosen by width, words and ids never cut,
terminal cells counted as the terminal counts them (a CJK character takes two)."""

from __future__ import annotations

import pytest
from rich.console import Console

from catalog.output import Column, render_table

ROWS = [
    {
        "id": "token-classification",
        "zh": "词元分类（命名实体）",
        "aliases": "ner, named-entity-recognition",
        "n": 215,
    },
    {"id": "automatic-speech-recognition", "zh": "自动语音识别", "aliases": "asr, speech-to-text", "n": 196},
]
COLUMNS = [
    Column("Task", lambda r: r["id"], no_wrap=True),
    Column("名称", lambda r: r["zh"]),
    Column("Aliases", lambda r: r["aliases"]),
    Column("Models", lambda r: r["n"], justify="right", optional=True),
]


def _render(width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    render_table(ROWS, COLUMNS, title="任务", console=console)
    return console.export_text()


@pytest.mark.parametrize("width", [80, 100, 120])
def test_a_table_that_fits_cuts_no_word_and_counts_cjk_as_two_cells(width: int) -> None:
    text = _render(width)
    assert all(len(line.rstrip()) <= width or "━" in line for line in text.splitlines())
    for row in ROWS:
        assert row["id"] in text and row["zh"] in text  # whole, on one line
        for word in row["aliases"].split():
            assert word in text
    assert ("Models" in text) == (width >= 100)  # the optional column, while it fits


def test_too_narrow_for_whole_words_falls_back_to_rich_layout() -> None:
    text = _render(40)
    assert "token-classification" in text  # the no_wrap id stays whole; other cells fold as rich lays them out


def test_a_table_that_would_run_off_the_edge_is_listed_as_blocks() -> None:
    """Six ids that must stay whole (no_wrap) cannot share 80 cells: rich would crop the right-hand columns and the
    caption; each row is printed as `Header: value` lines instead, and nothing is lost."""
    headers = [f"Figure {i}" for i in range(6)]
    rows = [{h: f"value-{h[-1]}-{'x' * 12}" for h in headers}]
    columns = [Column(h, lambda r, h=h: r[h], no_wrap=True) for h in headers]
    console = Console(width=80, record=True, color_system=None)
    render_table(rows, columns, title="Wide", caption="a caption long enough to need wrapping " * 4, console=console)
    text = console.export_text()
    assert all(len(line.rstrip()) <= 80 for line in text.splitlines())
    for header in headers:
        assert f"{header}: value-{header[-1]}-{'x' * 12}" in text
    assert " ".join(text.split()).count("a caption long enough") == 4
