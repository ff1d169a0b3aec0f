"""spaCy pipeline package meta (explosion/spacy-models meta/<pipeline>-<version>.json), one file or a folder.

`performance.ents_f/ents_p/ents_r` are NER scores (fractions) on the pipeline's own training corpus, named in
`sources` (OntoNotes 5 for the English pipelines, WikiNER, NorNE ... for others): the dataset of each row is that
corpus's name as spaCy writes it, with protocol `spacy-meta`, so it never compares with CoNLL-2003 or with another
split of OntoNotes. `speed` (words per second on the maintainers' CPU) is a reported fact with that basis. The Hub id
of a pipeline is spacy/<lang>_<name>.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from catalog.errors import EvidenceError
from catalog.evidence.importers import ImportContext, read_text, source_info
from catalog.evidence.records import FactRecord, Item, Parsed, Skipped, result

FORMAT = "spacy-meta"
TASK_ID = "token-classification"
_NER_CORPUS = re.compile(
    r"ontonotes|wikiner|norne|ronec|\bner\b|named entit|stockholm-ume|suc\b|turkuone|nkjp|conll|msra|"
    r"polyglot|ancora.*ner|germeval|nerkor|setimes\.sr|dane\b|kpwr|aij|wikiann|ud .* \+ ner",
    re.IGNORECASE,
)
_SCORES = (("ents_f", "ents_f"), ("ents_p", "ents_p"), ("ents_r", "ents_r"))


def _is_meta(data: Any) -> bool:
    return isinstance(data, dict) and "lang" in data and "name" in data and "spacy_version" in data


def _files(path: Path) -> list[Path]:
    """The meta files: one file, a folder of them, or a clone of explosion/spacy-models (its `meta/` folder)."""
    if not path.is_dir():
        return [path]
    if not any(path.glob("*.json")) and (path / "meta").is_dir():
        path = path / "meta"
    return sorted(path.glob("*.json"))


def detect(path: Path) -> bool:
    files = _files(path) if path.exists() else []
    if not files or not all(f.suffix == ".json" for f in files[:1]):
        return False
    try:
        return _is_meta(json.loads(files[0].read_bytes()))
    except (OSError, ValueError):
        return False


_NOT_NER = re.compile(
    r"^UD |vectors|embedding|lookups|lemmati[sz]er|wordnet|conver(sion|ter)|transliteration|navec|chive|/|bert",
    re.IGNORECASE,
)


def _corpus(sources: Any) -> str | None:
    """The source that holds the NER annotation: one named as NER data, else the first that is not a treebank,
    vectors, lookups or a transformer (hr500k, KLUE, Nerus ...); None when every source is one of those."""
    raw = [s.get("name") if isinstance(s, dict) else s for s in (sources if isinstance(sources, list) else [])]
    names: list[str] = [n.strip() for n in raw if isinstance(n, str) and n.strip()]
    named = next((n for n in names if _NER_CORPUS.search(n)), None)
    return named or next((n for n in names if not _NOT_NER.search(n)), None)


def _items(files: list[Path], parsed: Parsed) -> Iterator[Item]:
    for file in files:
        parsed.ticks[0] += 1
        try:
            data = json.loads(read_text(file))
        except json.JSONDecodeError as exc:
            raise EvidenceError(f"{file}: not valid JSON ({exc.msg}; truncated file?); nothing was imported.") from exc
        if not _is_meta(data):
            raise EvidenceError(
                f"{file}: not a spaCy package meta (no lang, name, spacy_version); nothing was imported."
            )
        model_id = f"spacy/{data['lang']}_{data['name']}"
        performance = data.get("performance") or {}
        version = str(data.get("version") or "")
        if data.get("license"):
            yield FactRecord(model_id, "license", data["license"])
        if isinstance(performance.get("speed"), int | float) and performance["speed"] > 0:
            yield FactRecord(
                model_id,
                "speed",
                {"value": performance["speed"], "unit": "words/s", "hardware": "spaCy maintainers' CPU (package meta)",
                 "version": version},
            )  # fmt: skip
        if not any(key in performance for key, _ in _SCORES):
            continue  # a pipeline without NER (tagger / parser only)
        corpus = _corpus(data.get("sources"))
        for key, raw in _SCORES:
            value = performance.get(key)
            if value is None:
                continue
            if corpus is None:
                yield Skipped("unknown-ner-corpus", model_id)
                continue
            yield result(
                model_id=model_id,
                task_id=TASK_ID,
                dataset=corpus,
                dataset_config=str(data["lang"]),
                metric_raw=raw,
                value=value,
                scale="fraction",
                protocol="spacy-meta",
                harness="spacy",
                harness_version=str(data.get("spacy_version") or "")[:32] or None,
                self_reported=True,
                verified=False,
                source_url=f"https://github.com/explosion/spacy-models/releases/tag/{data['lang']}_{data['name']}-{version}",
                details={"pipeline_version": version},
            )


def parse(location: str, context: ImportContext) -> Parsed:
    path = Path(location).resolve()
    files = _files(path)
    if not files:
        raise EvidenceError(f"{path}: no spaCy meta JSON files.")
    source = source_info(FORMAT, str(path), context, kind="model-card", name="spacy-models")
    return Parsed.ticking(source, len(files), "files", lambda parsed: _items(files, parsed))
