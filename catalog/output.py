"""One sink for every listing: a rich table for people, JSON or CSV for scripts. No logic lives here."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

FORMATS = ("table", "json", "csv")
WIDE = 120


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[dict[str, Any]], Any]
    justify: str = "left"
    max_width: int | None = None
    min_width: int | None = None
    no_wrap: bool = False
    optional: bool = False  # dropped on terminals narrower than WIDE
    priority: int = 0  # fit_table: 0 = always shown; optional columns are added by rising priority while they fit


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        if all(not isinstance(v, dict | list) for v in value):
            return ";".join(str(v) for v in value)
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_json(data: Any, stream: Any = None) -> None:
    stream = stream or sys.stdout
    stream.write(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    stream.write("\n")


def render_json_items(items: Iterable[Any], stream: Any = None) -> None:
    """A JSON array written item by item (the same text as render_json of the list): a listing of every model
    holds one item's text at a time, not the whole document."""
    stream = stream or sys.stdout
    first = True
    for item in items:
        text = json.dumps(item, ensure_ascii=False, indent=2, default=str).replace("\n", "\n  ")
        stream.write(("[\n  " if first else ",\n  ") + text)
        first = False
    stream.write("[]\n" if first else "\n]\n")


def render_csv(rows: Sequence[dict[str, Any]], stream: Any = None) -> None:
    stream = stream or sys.stdout
    if not rows:
        return
    fields: list[str] = []
    for row in rows:
        for key in row:
            if key not in fields:
                fields.append(key)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(row.get(k)) for k in fields})
    stream.write(buffer.getvalue())


def render_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[Column],
    *,
    title: str | None = None,
    caption: str | None = None,
    empty: str = "Nothing to show.",
    console: Any = None,
) -> None:
    """A listing as a table fitted to the terminal: fit_table (the required columns always, optional ones in order
    while they fit; cells wrap only between words, so ids and words are never cut). When the required columns'
    longest words do not fit side by side, rich lays the table out as before: optional columns dropped below WIDE,
    long words folded."""
    from rich.console import Console

    console = console or Console()
    if not rows:
        console.print(empty)
        return
    ranked = [
        c if c.priority or not c.optional else replace(c, priority=i)
        for i, c in enumerate(columns, start=1)
    ]  # fmt: skip
    fitted = fit_table(console, rows, ranked, title=title, caption=caption)
    if fitted is not None:
        console.print(fitted[0])
        return
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    narrow = console.width < WIDE
    if narrow:
        columns = [c for c in columns if not c.optional]
    table = Table(
        title=escape(title) if title else None,
        caption=escape(caption) if caption else None,
        show_lines=False,
        header_style="bold",
        box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD,
        pad_edge=not narrow,
    )
    for column in columns:
        table.add_column(
            column.header,
            justify=column.justify,  # type: ignore[arg-type]
            max_width=column.max_width,
            min_width=column.min_width,
            no_wrap=column.no_wrap,
            overflow="fold",
        )
    for row in rows:
        # Cell text is data (model ids, "[card]" tags ...), never rich markup.
        table.add_row(*("" if (v := c.value(row)) is None else escape(str(v)) for c in columns))
    from rich.cells import cell_len

    # rich's own layout at this width, uncropped: it may run off the edge, or shorten a no_wrap cell (an id)
    laid_out = io.StringIO()
    Console(width=console.width, file=laid_out, color_system=None).print(table, crop=False)
    text = laid_out.getvalue()
    if _whole(text, rows, [c for c in columns if c.no_wrap]) and all(
        cell_len(line) <= console.width for line in text.splitlines()
    ):
        console.print(table)
        return
    # Even folded, the columns would run off the edge (and be cropped): one block of `Header: value` lines a row.
    if title:
        console.print(escape(title), style="bold")
    for row in rows:
        console.print()
        for column in columns:
            value = column.value(row)
            console.print(f"[bold]{escape(column.header)}:[/bold] {escape('' if value is None else str(value))}")
    if caption:
        console.print()
        console.print(escape(caption))


def _whole(text: str, rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> bool:
    """Whether every cell of these columns appears whole in the rendered text, row after row: one pass over the text
    (each row is searched from where the previous one was found), not one per cell."""
    start = 0
    for row in rows:
        found = [text.find(str(v), start) for c in columns if (v := c.value(row)) is not None]
        if any(at < 0 for at in found):
            return False
        start = min(found, default=start)
    return True


def fit_table(
    console: Any,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[Column],
    *,
    title: str | None = None,
    caption: str | None = None,
) -> tuple[Any, list[Column]] | None:
    """A table for this console's width, choosing columns by width: the priority-0 columns always, then the others
    by rising priority while the table's narrowest layout still fits. Cells wrap only between words (a column is
    never narrower than its longest word; no_wrap cells stay whole), so nothing is cut mid-word and nothing runs off
    the edge. Returns (table, the columns kept), or None when even the priority-0 columns do not fit."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    narrow = console.width < WIDE
    texts = {id(c): ["" if (v := c.value(row)) is None else str(v) for row in rows] for c in columns}
    cells = {key: [escape(text) for text in values] for key, values in texts.items()}

    from rich.cells import cell_len  # terminal cells: a CJK character takes two

    def longest_word(column: Column) -> int:
        """The narrowest the column may be without cutting a word (or a no_wrap cell)."""
        pieces = [column.header, *texts[id(column)]]
        if column.no_wrap:
            return max(cell_len(piece) for piece in pieces)
        return max((cell_len(word) for piece in pieces for word in piece.split()), default=1)

    def natural(column: Column) -> int:
        longest = max(cell_len(piece) for piece in [column.header, *texts[id(column)]])
        floor = longest_word(column)
        return min(longest, max(column.max_width, floor)) if column.max_width else longest

    def table_for(chosen: Sequence[Column]) -> Any:
        return Table(
            title=escape(title) if title else None,
            caption=escape(caption) if caption else None,
            header_style="bold",
            box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD,
            pad_edge=not narrow,
        )

    def widths(chosen: Sequence[Column]) -> list[int] | None:
        """Each column's width: natural widths, the widest wrapping column narrowed one cell at a time until the
        table fits; None when even every column at its longest word does not fit."""
        table = table_for(chosen)
        for _ in chosen:
            table.add_column()
        padding = 2 * len(chosen) - (0 if table.pad_edge else 2)  # one space each side, none at the edges if narrow
        room = console.width - table._extra_width - padding  # _extra_width: the borders, as rich counts them
        floors = [max(c.min_width or 0, longest_word(c)) for c in chosen]
        sizes = [max(natural(c), f) for c, f in zip(chosen, floors, strict=True)]
        if sum(floors) > room:
            return None
        while sum(sizes) > room:
            widest = max(range(len(sizes)), key=lambda i: sizes[i] - floors[i])
            sizes[widest] -= 1
        return sizes

    kept = [c for c in columns if c.priority == 0]
    if widths(kept) is None:
        return None
    for column in sorted((c for c in columns if c.priority > 0), key=lambda c: c.priority):
        trial = [c for c in columns if c in kept or c is column]
        if widths(trial) is not None:
            kept = trial
    sizes = widths(kept)
    assert sizes is not None
    table = table_for(kept)
    for column, size in zip(kept, sizes, strict=True):
        table.add_column(column.header, justify=column.justify, width=size,  # type: ignore[arg-type,unused-ignore]
                         no_wrap=column.no_wrap, overflow="fold")  # fmt: skip
    for i in range(len(rows)):
        table.add_row(*(cells[id(c)][i] for c in kept))
    return table, kept


def render(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[Column],
    fmt: str,
    *,
    title: str | None = None,
    caption: str | None = None,
    empty: str = "Nothing to show.",
) -> None:
    if fmt == "json":
        render_json(list(rows))
    elif fmt == "csv":
        render_csv(rows)
    else:
        render_table(rows, columns, title=title, caption=caption, empty=empty)


def print_message(text: str) -> None:
    from rich.console import Console

    Console().print(text)


def human_count(value: int | None) -> str:
    if value is None:
        return "—"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return str(value)


def human_duration(ms: float | None) -> str:
    """A duration given in milliseconds, in the unit a person reads best: µs under 0.1 ms, ms under 1 s, seconds up
    to 120 s, minutes up to 120 min, hours up to 48 h, then days; three significant figures, never an exponent."""
    if ms is None:
        return "—"
    if ms != ms or ms in (float("inf"), float("-inf")):  # NaN or infinite: say so rather than format it
        return f"{ms} ms"
    sign, value = ("-", -ms) if ms < 0 else ("", ms)
    if value == 0:
        return "0 ms"
    for limit, scale, unit in (
        (0.1, 1e-3, "µs"),
        (1000.0, 1.0, "ms"),
        (120e3, 1e3, "s"),
        (120 * 60e3, 60e3, "min"),
        (48 * 3600e3, 3600e3, "h"),
    ):
        if value < limit:
            return f"{sign}{_three_figures(value / scale)} {unit}"
    return f"{sign}{_three_figures(value / 86400e3)} d"


def _three_figures(value: float) -> str:
    """Three significant figures without an exponent (0.0425, 4.25, 425, 4250)."""
    if value == 0:
        return "0"
    if value >= 100:
        return f"{value:.0f}"
    text = f"{value:.3g}"
    if "e" in text:  # below 1e-4: fixed point with three significant digits
        import math

        text = f"{value:.{2 - math.floor(math.log10(value))}f}"
    return text
