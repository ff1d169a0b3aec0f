"""Typed errors. Each message is one line that says what went wrong and what to do next.

The CLI maps every CatalogError to that line on stderr and exit status 1 (traceback only with
CATALOG_DEBUG=1); library callers can catch the specific class.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Close matches for a mistyped name, best first."""
    pool = sorted(set(candidates))
    lowered = {c.lower(): c for c in pool}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[h] for h in hits]


class CatalogError(Exception):
    """Base class: a problem the user can fix; str(error) is the whole message."""

    exit_code = 1


class UnknownNameError(CatalogError):
    """A name (task, family, architecture, model, license ...) that the catalog does not know."""

    kind = "name"
    listing = ""

    def __init__(self, name: str, candidates: Iterable[str] = (), hint: str | None = None) -> None:
        self.name = name
        self.suggestions = suggest(name, candidates)
        message = f"Unknown {self.kind} '{name}'."
        if self.suggestions:
            message += " Did you mean: " + ", ".join(self.suggestions) + "?"
        elif hint or self.listing:
            message += f" {hint or self.listing}"
        super().__init__(message)


class UnknownTaskError(UnknownNameError):
    kind = "task"
    listing = "Run `catalog tasks` to see them all."


class UnknownArchitectureError(UnknownNameError):
    kind = "architecture"
    listing = "Run `catalog architectures` to see them all."


class UnknownFamilyError(UnknownNameError):
    kind = "family"
    listing = "Run `catalog families` to see them all."


class UnknownModelError(UnknownNameError):
    kind = "model"
    listing = "Run `catalog models` to list the catalog, or `catalog sync` to add models from the Hub."


class UnknownLicenseError(UnknownNameError):
    kind = "license"
    listing = "Use a Hub license id such as apache-2.0 or mit, or --permissive / --commercial-ok."


class UnknownLanguageError(UnknownNameError):
    kind = "language"
    listing = "Use an ISO 639-1 code such as en or zh."


class TaxonomyError(CatalogError):
    """catalog.yaml cannot be read or does not match its schema."""


class DatabaseError(CatalogError):
    """The database cannot be opened, reached or used."""


class DatabaseURLError(DatabaseError):
    pass


class DatabaseUnavailableError(DatabaseError):
    pass


class SchemaTooNewError(DatabaseError):
    pass


class UsageError(CatalogError):
    """An option value that makes no sense (e.g. a negative limit)."""


class EvidenceError(CatalogError):
    """A quality-evidence source that cannot be read or imported (the database is left as it was)."""


class MetricValueError(EvidenceError):
    """A reported metric value that cannot be put on its metric's canonical scale (importers count it as skipped)."""

    reason = "invalid-value"


class AmbiguousScaleError(MetricValueError):
    """A value that reads as a plausible percent and as a plausible fraction: refused, never guessed."""

    reason = "ambiguous-scale"


class OutOfRangeError(MetricValueError):
    """A value outside its metric's valid range (or implausible on every scale)."""

    reason = "out-of-range"


class ModelResolutionError(CatalogError):
    """A model named on the command line that cannot be found, read, downloaded or accepted."""


class EstimateError(CatalogError):
    """A model the cost model cannot estimate (no config, no shapes, no parameter count)."""
