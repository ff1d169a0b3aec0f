"""Which catalog model an evidence row names, when the row spells the id differently from the catalog.

Published results often name a model by its pre-2024 Hub id (`gpt2`, `bert-base-uncased`, `t5-small`): the Hub
moved those to organisations (`openai-community/gpt2`, `google-bert/bert-base-uncased`, `google-t5/t5-small`) and
redirects the old ids, and the catalog (a 2024 snapshot or a sync) holds the new ones. A row's id without '/'
therefore names `<org>/<id>` when exactly one such model exists among LEGACY_ORGS; an id that differs from a
catalog id only in case names it when exactly one catalog id folds to it. A row whose id is a catalog id as written
is never remapped.

LEGACY_ORGS: the organisations holding the formerly unnamespaced models in the 2024-09-20 snapshot (their name
parts are the old top-level ids: openai-community 7 models, google-bert 14, google-t5 5, FacebookAI 9, distilbert 9,
albert 7, xlnet 2, transfo-xl 1, almanach's camembert 3). An org such as `facebook` or `google` is not one: its
models always had the prefix, and a bare name matching one of them would be a guess.
"""

from __future__ import annotations

from collections.abc import Iterable

LEGACY_ORGS = frozenset(
    {"openai-community", "google-bert", "google-t5", "FacebookAI", "distilbert", "albert", "xlnet", "transfo-xl",
     "almanach"}
)  # fmt: skip


def legacy_name(model_id: str) -> str | None:
    """The pre-2024 id of a model in one of LEGACY_ORGS (`google-bert/bert-base-uncased` -> `bert-base-uncased`)."""
    org, slash, name = model_id.partition("/")
    return name if slash and org in LEGACY_ORGS and "/" not in name else None


class ModelIds:
    """Resolves the ids evidence rows use to the given catalog ids (see the module docstring)."""

    def __init__(self, catalog_ids: Iterable[str]) -> None:
        self.ids = set(catalog_ids)
        self._legacy: dict[str, list[str]] = {}
        self._folded: dict[str, list[str]] = {}
        for model_id in self.ids:
            self._folded.setdefault(model_id.lower(), []).append(model_id)
            name = legacy_name(model_id)
            if name is not None:
                self._legacy.setdefault(name.lower(), []).append(model_id)

    def resolve(self, evidence_id: str) -> str | None:
        """The catalog id `evidence_id` names, or None when it names none of them (or more than one)."""
        if evidence_id in self.ids:
            return evidence_id
        if "/" not in evidence_id:
            found = self._legacy.get(evidence_id.lower(), [])
            if len(found) == 1:
                return found[0]
        found = self._folded.get(evidence_id.lower(), [])
        return found[0] if len(found) == 1 else None

    def spellings(self, catalog_ids: Iterable[str] | None = None) -> set[str]:
        """Ids a row may carry to resolve to one of `catalog_ids` (default: all), for an indexable IN list: each id,
        its lower-case form and its legacy name. A row with another mix of cases is found only where a read does
        not filter by model (the ranking reads a task with more than 900 candidates that way)."""
        names: set[str] = set()
        for model_id in self.ids if catalog_ids is None else catalog_ids:
            names.update((model_id, model_id.lower()))
            name = legacy_name(model_id)
            if name is not None:
                names.update((name, name.lower()))
        return names
