"""Options every listing shares, the one parser of numeric options, and opening the database the way the user
asked."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

# No envvar here: a command's --db, then the group's --db, then CATALOG_DB_URL (settings.db_url), so that an
# explicit --db always wins over the environment.
db_option = click.option(
    "--db",
    "db_url",
    metavar="URL",
    help="SQLAlchemy database URL (default: SQLite in the user data dir; env CATALOG_DB_URL).",
)

INT64_MAX = 2**63 - 1  # the largest id or count a database integer column holds
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_FLOAT = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")


def _bounds_text(integer: bool, minimum: float | None, maximum: float | None, above: float | None) -> str:
    kind = "a whole number" if integer else "a finite number"
    low = f"above {above:g}" if above is not None else None if minimum is None else f"at least {minimum:g}"
    high = None if maximum is None else f"at most {maximum:g}"
    if integer and minimum is not None and maximum is not None and above is None:
        return f"{kind} from {minimum:g} to {maximum:,}"
    return " ".join(x for x in (kind, low and f"{low}", high and ("and " if low else "") + high) if x)


def parse_number(
    value: Any,
    option: str,
    *,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    expected: str | None = None,
) -> Any:
    """The one parser of numeric options: a whole number (integer=True) or a finite float within the bounds.

    NaN, infinities, overflowing exponents (1e400), numbers past 64 bits and memory sizes given to a count are
    refused with one line that names the option and what it takes (catalog.errors.UsageError)."""
    from catalog.errors import UsageError

    expected = expected or _bounds_text(integer, minimum, maximum if maximum != INT64_MAX else None, above)
    text = str(value).strip()
    if isinstance(value, bool) or not text:
        raise UsageError(f"{option} must be {expected}, not {text!r}.")
    number: float | int
    if integer:
        if not _INTEGER.match(text):
            raise UsageError(f"{option} must be {expected}, not {text[:40]!r}.")
        if len(text.lstrip("+-")) > 19:  # past any 64-bit value: do not even convert it
            raise UsageError(f"{option} {text[:24]}… is too large: it must be {expected}.")
        number = int(text)
        if not -INT64_MAX - 1 <= number <= INT64_MAX:
            raise UsageError(f"{option} {text} is too large: it must be {expected}.")
    else:
        if not _FLOAT.match(text):
            raise UsageError(f"{option} must be {expected}, not {text[:40]!r}.")
        number = float(text)
        if not math.isfinite(number):
            raise UsageError(f"{option} {text[:24]} is too large: it must be {expected}.")
    if (
        (minimum is not None and number < minimum)
        or (maximum is not None and number > maximum)
        or (above is not None and number <= above)
    ):
        raise UsageError(f"{option} must be {expected}, not {text}.")
    return number


if TYPE_CHECKING:  # click >= 8.2 makes ParamType generic; subscripting it at run time would fail on 8.1
    _ParamType = click.ParamType[Any, Any]
else:
    _ParamType = click.ParamType


class Number(_ParamType):
    """A click type that parses with parse_number: `--limit`, `--budget-s`, run ids ..."""

    def __init__(
        self,
        integer: bool = False,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        above: float | None = None,
        expected: str | None = None,
    ) -> None:
        self.integer = integer
        self.expected = expected
        self.minimum, self.maximum, self.above = minimum, maximum, above
        self.name = "integer" if integer else "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        option = "value"
        if param is not None:
            option = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
        return parse_number(
            value,
            option,
            integer=self.integer,
            minimum=self.minimum,
            maximum=self.maximum,
            above=self.above,
            expected=self.expected,
        )


def whole(minimum: int = 1, maximum: int = INT64_MAX) -> Number:
    """A whole number within [minimum, maximum]."""
    return Number(True, minimum=minimum, maximum=maximum)


def positive(maximum: float | None = None) -> Number:
    """A finite number above 0."""
    return Number(False, above=0, maximum=maximum)


RUN_ID = whole(1)  # benchmark run ids are positive 64-bit integers
# listing sizes; 0 means all
LIMIT = Number(True, minimum=0, maximum=10**9, expected="0 (all) or a positive number (a whole number up to 10^9)")
SEED = whole(0, 2**32 - 1)  # every random generator the harness uses takes a 32-bit seed


MAX_SHAPE = 2**20  # a batch size or sequence length beyond this is a typo, not a shape to allocate


def parse_int_list(text: str, option: str) -> tuple[int, ...]:
    """'1,8' -> (1, 8): comma-separated positive whole numbers up to MAX_SHAPE; one clear line for anything else."""
    from catalog.errors import UsageError

    parts = [part.strip() for part in str(text).split(",") if part.strip()]
    if not parts or any(len(part) > 30 or not _INTEGER.match(part) for part in parts):
        raise UsageError(f"{option} takes comma-separated positive integers such as 1,8, not {str(text)[:40]!r}.")
    values = tuple(int(part) for part in parts)
    if any(v <= 0 for v in values):
        raise UsageError(f"{option} takes comma-separated positive integers such as 1,8, not {str(text)[:40]!r}.")
    if any(v > MAX_SHAPE for v in values):
        raise UsageError(f"{option} values must be at most {MAX_SHAPE:,}, not {max(values)}.")
    return values


def model_shape_options(*, model_help: str, device_help: str, threads_help: str) -> Callable[[F], F]:
    """The model and shape options `catalog bench run` and `catalog estimate` share, defined once so that an
    estimate is asked for exactly as a measurement is: --model, --task, --batch-sizes, --seq-lens, --device,
    --dtype, --threads and --new-tokens. The size lists stay text (each command parses them with parse_int_list
    when it runs, so a bad list is refused before any work starts)."""

    options = [
        click.option("--model", "-m", "models", multiple=True, metavar="ID_OR_PATH", help=model_help),
        click.option("--task", "-t", help="Task id or alias; default: inferred from each model's config."),
        click.option("--batch-sizes", default="1", show_default=True, help="Comma-separated batch sizes."),
        click.option("--seq-lens", default="128", show_default=True, help="Comma-separated sequence lengths."),
        click.option(
            "--device", type=click.Choice(["cpu", "cuda", "mps"]), default="cpu", show_default=True, help=device_help
        ),
        click.option(
            "--dtype",
            type=click.Choice(["float32", "bfloat16", "float16"]),
            default="float32",
            show_default=True,
            help="Weights and activations dtype.",
        ),
        click.option("--threads", type=whole(1, 4096), help=threads_help),
        click.option(
            "--new-tokens",
            type=whole(1, 10**5),
            default=16,
            show_default=True,
            help="Text generation: tokens per request.",
        ),
    ]

    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def format_choice(*choices: str) -> Callable[[F], F]:
    """--format with these choices; the first is the default (for people), the rest are for scripts."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        help=f"{choices[0]} for people, {' or '.join(choices[1:])} for scripts.",
    )


format_option = format_choice("table", "json", "csv")
lang_option = click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    envvar="CATALOG_LANG",
    default="en",
    show_default=True,
    help="Language of task and architecture names (English or Chinese).",
)


def listing_options(func: F) -> F:
    return db_option(format_option(lang_option(func)))


def db_url_of(db_url: str | None) -> str | None:
    """The command's --db, else the group's --db (None: the configured default)."""
    if db_url is None:
        context = click.get_current_context(silent=True)
        if context is not None:
            db_url = context.find_root().params.get("db_url")
    return db_url


def open_db(db_url: str | None) -> Any:
    """Open the database named by the command's --db, else the group's --db, else the configured default."""
    from catalog.db import open_database

    return open_database(db_url_of(db_url))


def name_of(row: dict[str, Any], lang: str) -> str:
    return str(row.get("name_zh") if lang == "zh" else row.get("name_en"))
