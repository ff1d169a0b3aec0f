"""Registry of evaluation sets: what each set is, where it comes from, and how to read it into typed examples.

The manifests live in data/evalsets.yaml (upstream source, license as stated upstream, sha256 and size of every
file); the data never lives in this repository. A set's files are looked up, in order, in

1. the directory named by CATALOG_EVAL_DIR,
2. ../shared/evalsets next to the repository (this workspace),
3. the user cache, <CATALOG_DATA_DIR or the platformdirs data dir>/evalsets,

each as <dir>/<set folder>/<file>. A file the manifest gives a URL for is downloaded once into the cache when it is
found nowhere (unless HF_HUB_OFFLINE or CATALOG_EVAL_OFFLINE is set), and every file is checked against its sha256
before it is parsed: a wrong copy is an error, never a silently wrong score.

    from bench import evalsets
    ev = evalsets.load("xquad-en", limit=200, seed=0)   # EvalSet: .spec (metadata) + .examples (typed)
    ev = evalsets.from_file("mine.csv", "text-classification", text_column="review", label_column="stars")
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import random
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from catalog.errors import CatalogError, UnknownNameError, UsageError
from catalog.evaltasks import EVALSET_TASKS

MANIFEST_NAME = "evalsets.yaml"
DOWNLOAD_TIMEOUT_S = 60.0


# --------------------------------------------------------------------------------------------------------- errors


class EvalSetError(CatalogError):
    """An evaluation set cannot be used as asked."""


class UnknownEvalSetError(UnknownNameError):
    kind = "evaluation set"
    listing = "Run `catalog bench evalsets` to see them all."


class EvalSetNotFoundError(EvalSetError):
    """The files of a registered set are in none of the places looked at (and could not be downloaded)."""


class ChecksumMismatchError(EvalSetError):
    """A file exists but is not the file the manifest describes."""


class EvalFileFormatError(EvalSetError):
    """A data file (registered or the user's own) does not parse as the expected format."""


# ------------------------------------------------------------------------------------------------- typed examples


@dataclass(frozen=True)
class TextClassificationExample:
    text: str
    label: int  # index into EvalSet.label_names
    label_name: str
    text_pair: str | None = None
    id: str = ""


@dataclass(frozen=True)
class TokenClassificationExample:
    tokens: tuple[str, ...]
    tags: tuple[str, ...]  # IOB2, e.g. B-PER I-PER O
    id: str = ""


@dataclass(frozen=True)
class Answer:
    text: str
    answer_start: int


@dataclass(frozen=True)
class QuestionAnsweringExample:
    id: str
    context: str
    question: str
    answers: tuple[Answer, ...]

    @property
    def answer_texts(self) -> list[str]:
        return [a.text for a in self.answers]


@dataclass(frozen=True)
class TranslationExample:
    source: str
    reference: str
    id: str = ""


@dataclass(frozen=True)
class SummarizationExample:
    document: str
    reference: str
    id: str = ""


@dataclass(frozen=True)
class TextExample:
    """One non-blank line of a language-modelling text (a paragraph or a heading)."""

    text: str
    id: str = ""


@dataclass(frozen=True)
class ImageExample:
    image: Any  # numpy uint8 array, (H, W) grey
    label: int
    label_name: str
    id: str = ""


@dataclass(frozen=True)
class AudioExample:
    path: Path
    label: int | None = None
    label_name: str | None = None
    transcript: str | None = None
    sampling_rate: int | None = None
    id: str = ""


# ---------------------------------------------------------------------------------------------------- manifests


@dataclass(frozen=True)
class FileSpec:
    path: str  # relative to the set's folder
    sha256: str
    size: int
    url: str | None = None
    role: str = "data"  # data: needed to load; doc: licence/README, checksummed but optional

    @property
    def required(self) -> bool:
        return self.role == "data"


@dataclass(frozen=True)
class Source:
    repo: str = ""
    commit: str = ""
    path: str = ""

    def __str__(self) -> str:
        text = self.repo
        if self.commit:
            text += f" @ {self.commit}"
        if self.path:
            text += f" : {self.path}"
        return text


@dataclass(frozen=True)
class EvalSetSpec:
    """One loadable evaluation set (a folder, or one subset of a folder)."""

    name: str  # folder, or folder/subset
    folder: str
    task: str
    parser: str
    files: tuple[FileSpec, ...]
    subset: str | None = None
    title: str = ""
    aliases: tuple[str, ...] = ()
    also_tasks: tuple[str, ...] = ()
    language: str = ""
    license: str = "unknown"
    license_note: str = ""
    source: Source = field(default_factory=Source)
    homepage: str = ""
    split: str = ""
    label_schema: str = ""
    label_names: tuple[str, ...] = ()
    n_examples: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in EVALSET_TASKS:
            raise EvalSetError(
                f"Evaluation set {self.name}: unknown task {self.task!r}; expected one of {EVALSET_TASKS}."
            )
        if self.parser not in PARSERS:
            raise EvalSetError(
                f"Evaluation set {self.name}: unknown parser {self.parser!r}; expected one of {sorted(PARSERS)}."
            )
        for f in self.files:
            if not re.fullmatch(r"[0-9a-f]{64}", f.sha256):
                raise EvalSetError(f"Evaluation set {self.name}: file {f.path} has no valid sha256.")

    @property
    def tasks(self) -> tuple[str, ...]:
        return (self.task, *self.also_tasks)

    @property
    def data_files(self) -> tuple[FileSpec, ...]:
        return tuple(f for f in self.files if f.required)

    @property
    def downloadable(self) -> bool:
        return all(f.url for f in self.data_files)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["source"] = asdict(self.source)
        data["files"] = [asdict(f) for f in self.files]
        return data


def _build_spec(name: str, folder: str, subset: str | None, entry: dict[str, Any], where: str) -> EvalSetSpec:
    try:
        files = tuple(
            FileSpec(
                path=str(f["path"]),
                sha256=str(f["sha256"]),
                size=int(f["size"]),
                url=f.get("url"),
                role=str(f.get("role", "data")),
            )
            for f in entry.get("files", [])
        )
        source = dict(entry.get("source") or {})
        if entry.get("source_path"):
            source["path"] = entry["source_path"]
        notes = {k: str(v) for k, v in entry.items() if k.endswith("_note") and k != "license_note"}
        return EvalSetSpec(
            name=name,
            folder=folder,
            subset=subset,
            task=str(entry["task"]),
            parser=str(entry["parser"]),
            files=files,
            title=str(entry.get("title", "")),
            aliases=tuple(entry.get("aliases", ())),
            also_tasks=tuple(entry.get("also_tasks", ())),
            language=str(entry.get("language", "")),
            license=str(entry.get("license", "unknown")),
            license_note=str(entry.get("license_note", "")),
            source=Source(**{k: str(v) for k, v in source.items()}),
            homepage=str(entry.get("homepage", "")),
            split=str(entry.get("split", "")),
            label_schema=str(entry.get("label_schema", "")),
            label_names=tuple(str(x) for x in entry.get("label_names", ())),
            n_examples=entry.get("n_examples"),
            options=dict(entry.get("options") or {}),
            notes=notes,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise EvalSetError(f"{where}: set {name!r} is malformed ({type(exc).__name__}: {exc}).") from None


def _key(name: str) -> str:
    """Spelling-insensitive lookup key: xquad/en, xquad.en, xquad-en and XQuAD_en are one name."""
    return re.sub(r"[\s_./:-]+", "-", name.strip().lower())


class Registry:
    """Every registered set, by name and alias. Folder names with subsets resolve to the folder's default."""

    def __init__(self, specs: Iterable[EvalSetSpec], defaults: dict[str, str | None] | None = None) -> None:
        self.specs: dict[str, EvalSetSpec] = {}
        self._index: dict[str, str] = {}
        self._folders: dict[str, list[str]] = {}
        for spec in specs:
            if spec.name in self.specs:
                raise EvalSetError(f"Evaluation set {spec.name!r} is registered twice.")
            self.specs[spec.name] = spec
            self._folders.setdefault(spec.folder, []).append(spec.name)
            for alias in (spec.name, *spec.aliases):
                key = _key(alias)
                if key in self._index and self._index[key] != spec.name:
                    raise EvalSetError(f"Name {alias!r} is used by {self._index[key]} and {spec.name}.")
                self._index[key] = spec.name
        self.defaults = dict(defaults or {})
        for folder, default in self.defaults.items():
            if default is not None:
                self._index.setdefault(_key(folder), f"{folder}/{default}")

    @classmethod
    def from_yaml(cls, path: Path) -> Registry:
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise EvalSetError(f"Cannot read the evaluation-set manifest {path}: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("sets"), dict):
            raise EvalSetError(f"{path}: expected a mapping with a `sets:` mapping of folder -> set.")
        specs: list[EvalSetSpec] = []
        defaults: dict[str, str | None] = {}
        for folder, entry in data["sets"].items():
            entry = dict(entry or {})
            subsets = entry.pop("subsets", None)
            default = entry.pop("default", None)
            if not subsets:
                specs.append(_build_spec(folder, folder, None, entry, str(path)))
                continue
            defaults[folder] = default
            if default is not None and default not in subsets:
                raise EvalSetError(f"{path}: set {folder!r}: default subset {default!r} is not among its subsets.")
            for subset, sub_entry in subsets.items():
                merged = {**entry, **(sub_entry or {})}
                if isinstance(entry.get("options"), dict) and isinstance((sub_entry or {}).get("options"), dict):
                    merged["options"] = {**entry["options"], **sub_entry["options"]}
                specs.append(_build_spec(f"{folder}/{subset}", folder, str(subset), merged, str(path)))
        return cls(specs, defaults)

    @property
    def folders(self) -> list[str]:
        return list(self._folders)

    def names(self) -> list[str]:
        return list(self.specs)

    def get(self, name: str, task: str | None = None) -> EvalSetSpec:
        """The set called `name` (or an alias). A folder with several subsets and no default needs `task` or a
        subset name."""
        key = _key(name)
        if key in self._index:
            spec = self.specs[self._index[key]]
            if task is None or task in spec.tasks or spec.subset is None:
                return spec
            # "csl" with task=summarization: pick the folder's subset for that task.
            key = _key(spec.folder)
        folder = next((f for f in self._folders if _key(f) == key), None)
        if folder is not None:
            members = [self.specs[n] for n in self._folders[folder]]
            if task is not None:
                matching = [s for s in members if task in s.tasks]
                if len(matching) == 1:
                    return matching[0]
            choices = ", ".join(f"{s.name} ({s.task})" for s in members)
            raise EvalSetError(f"Evaluation set {folder!r} has several subsets; name one: {choices}.")
        candidates = [*self.specs, *(a for s in self.specs.values() for a in s.aliases), *self._folders]
        raise UnknownEvalSetError(name, candidates)

    def for_task(self, task: str | None = None) -> list[EvalSetSpec]:
        return [s for s in self.specs.values() if task is None or task in s.tasks]


_REGISTRY: Registry | None = None


def registry() -> Registry:
    """The registry read from data/evalsets.yaml (cached)."""
    global _REGISTRY
    if _REGISTRY is None:
        from catalog import settings

        _REGISTRY = Registry.from_yaml(settings.data_path(MANIFEST_NAME))
    return _REGISTRY


def list_sets(task: str | None = None) -> list[EvalSetSpec]:
    return registry().for_task(task)


def get(name: str, task: str | None = None) -> EvalSetSpec:
    return registry().get(name, task)


# ------------------------------------------------------------------------------------------------ locating files


def search_dirs() -> list[tuple[str, Path]]:
    """Where set folders are looked for, in order, each with how it was chosen."""
    from catalog import settings

    dirs: list[tuple[str, Path]] = []
    env = os.environ.get("CATALOG_EVAL_DIR")
    if env:
        dirs.append(("CATALOG_EVAL_DIR", Path(env).expanduser()))
    dirs.append(("workspace", settings.REPO_ROOT.parent / "shared" / "evalsets"))
    dirs.append(("cache", cache_dir()))
    return dirs


def cache_dir() -> Path:
    from catalog import settings

    return settings.data_dir() / "evalsets"


def downloads_allowed() -> bool:
    def on(name: str) -> bool:
        return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")

    return not (on("HF_HUB_OFFLINE") or on("CATALOG_EVAL_OFFLINE"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_VERIFIED: dict[tuple[str, int, int], str] = {}


def _checked_sha256(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) so a run verifies each file once."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        _VERIFIED[key] = sha256_of(path)
    return _VERIFIED[key]


def verify(path: Path, expected: FileSpec, set_name: str) -> None:
    size = path.stat().st_size
    actual = _checked_sha256(path) if size == expected.size else None
    if size != expected.size or actual != expected.sha256:
        where = expected.url or "see the set's source in `catalog bench evalsets --format json`"
        got = f"{size} bytes" if size != expected.size else f"sha256 {actual}"
        raise ChecksumMismatchError(
            f"{path} is not the file evaluation set {set_name} expects (expected {expected.size} bytes, sha256 "
            f"{expected.sha256}; got {got}). Replace it with the upstream file ({where}) or remove it."
        )


@dataclass(frozen=True)
class Location:
    """Where a set's files were found: one directory holding all required files of the set's folder."""

    kind: str  # CATALOG_EVAL_DIR | workspace | cache | user-file
    directory: Path  # the set folder itself

    def path(self, relative: str) -> Path:
        return self.directory / relative


def find(spec: EvalSetSpec) -> Location | None:
    """The first place holding every required file of the set (not verified, not downloaded)."""
    for kind, base in search_dirs():
        folder = base / spec.folder
        if all((folder / f.path).is_file() for f in spec.data_files):
            return Location(kind, folder)
    return None


def _not_found_message(spec: EvalSetSpec, reason: str = "") -> str:
    places = "; ".join(f"{base / spec.folder} ({kind})" for kind, base in search_dirs())
    files = ", ".join(f.path for f in spec.data_files[:3]) + (" ..." if len(spec.data_files) > 3 else "")
    how = (
        f"Set CATALOG_EVAL_DIR to a directory holding {spec.folder}/ ({files}), or place the files at "
        f"{search_dirs()[-1][1] / spec.folder}"
    )
    if spec.downloadable:
        how += ", or allow the download (unset HF_HUB_OFFLINE / CATALOG_EVAL_OFFLINE) on a connected machine"
    else:
        how += f"; upstream: {spec.source}" + (f" ({spec.split})" if spec.split else "")
    return f"Evaluation set {spec.name} is not available: looked in {places}. {reason}{how}."


def _download(url: str, target: Path, expected: FileSpec, set_name: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "catalog-evalsets"})
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as resp:
            shutil.copyfileobj(resp, out)
        verify(tmp, expected, set_name)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def ensure_available(spec: EvalSetSpec, *, download: bool | None = None) -> Location:
    """Find the set's files (downloading them into the cache when allowed) and verify every checksum."""
    location = find(spec)
    if location is None:
        if download is None:
            download = downloads_allowed()
        if not spec.downloadable:
            raise EvalSetNotFoundError(_not_found_message(spec, "It has no download URL (a derived subset). "))
        if not download:
            raise EvalSetNotFoundError(_not_found_message(spec, "Downloading is off. "))
        folder = cache_dir() / spec.folder
        for f in spec.data_files:
            target = folder / f.path
            if target.is_file():
                continue
            try:
                _download(str(f.url), target, f, spec.name)
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                reason = getattr(exc, "reason", exc)
                raise EvalSetNotFoundError(
                    _not_found_message(spec, f"Downloading {f.url} failed ({reason}). ")
                ) from None
        location = Location("cache", folder)
    for f in spec.data_files:
        verify(location.path(f.path), f, spec.name)
    return location


# ------------------------------------------------------------------------------------------------------- parsers


def _open_text(path: Path) -> io.TextIOBase:
    # utf-8-sig: a byte-order mark (as spreadsheet programs write) is not part of the first column's name
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open("r", encoding="utf-8-sig", newline="")


def _label_index(raw: str, label_names: Sequence[str], where: str) -> tuple[int, str]:
    value = raw.strip()
    if value in label_names:
        return label_names.index(value), value
    if value.lstrip("-").isdigit() and 0 <= int(value) < len(label_names):
        return int(value), label_names[int(value)]
    raise EvalFileFormatError(f"{where}: label {raw!r} is not one of {list(label_names)} (or their indexes).")


def read_rows(
    path: Path, delimiter: str | None = None, header: bool = True, columns: Sequence[str] = ()
) -> Iterator[dict[str, str]]:
    """Rows of a CSV/TSV (or, for .jsonl/.ndjson, JSON Lines) file as dicts of column -> text."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        with _open_text(path) as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise EvalFileFormatError(f"{path}:{number}: not a JSON object per line ({exc.msg}).") from None
                if not isinstance(record, dict):
                    raise EvalFileFormatError(f"{path}:{number}: expected a JSON object per line.")
                yield {
                    k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, list | dict) else str(v)
                    for k, v in record.items()
                }
        return
    if delimiter is None:
        delimiter = "\t" if name.endswith((".tsv", ".tab", ".txt")) else ","
    quoting: Any = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter, quoting=quoting)
        fieldnames: list[str] | None = list(columns) if columns else None
        for number, row in enumerate(reader, 1):
            if not row or all(not cell.strip() for cell in row):
                continue
            if fieldnames is None:
                if header:
                    fieldnames = [c.strip() for c in row]
                    continue
                fieldnames = [str(i) for i in range(len(row))]
            elif header and number == 1 and columns:
                continue
            if len(row) != len(fieldnames):
                raise EvalFileFormatError(
                    f"{path}:{number}: {len(row)} columns where the header has {len(fieldnames)} ({fieldnames})."
                )
            yield dict(zip(fieldnames, row, strict=True))


def _column(row: dict[str, str], column: str, path: Path) -> str:
    if column not in row:
        raise EvalFileFormatError(f"{path}: no column {column!r}; the file has {list(row)}.")
    return row[column]


def parse_text_classification(
    paths: Sequence[Path],
    label_names: Sequence[str],
    *,
    text_column: str = "text",
    label_column: str = "label",
    text_pair_column: str | None = None,
    delimiter: str | None = None,
    header: bool = True,
    columns: Sequence[str] = (),
) -> Iterator[TextClassificationExample]:
    for path in paths:
        for number, row in enumerate(read_rows(path, delimiter, header, columns)):
            label, name = _label_index(_column(row, label_column, path), label_names, f"{path} row {number + 1}")
            yield TextClassificationExample(
                text=_column(row, text_column, path).strip(),
                label=label,
                label_name=name,
                text_pair=_column(row, text_pair_column, path).strip() if text_pair_column else None,
                id=f"{path.stem}:{number}",
            )


def parse_summarization(
    paths: Sequence[Path],
    *,
    document_column: str = "document",
    reference_column: str = "reference",
    delimiter: str | None = None,
    header: bool = True,
    columns: Sequence[str] = (),
) -> Iterator[SummarizationExample]:
    for path in paths:
        for number, row in enumerate(read_rows(path, delimiter, header, columns)):
            yield SummarizationExample(
                document=_column(row, document_column, path).strip(),
                reference=_column(row, reference_column, path).strip(),
                id=f"{path.stem}:{number}",
            )


_IOB = re.compile(r"^(?:[BIES]-.+|O)$")


def parse_conll(path: Path) -> Iterator[TokenClassificationExample]:
    """CoNLL / IOB2 columns: blank lines end sentences, '#' lines are comments; the token column and the tag column
    are detected (the tag column is the one whose every value looks like O / B-X / I-X)."""
    token_col: int | None = None
    tag_col: int | None = None
    sentence: list[list[str]] = []
    count = 0

    def detect(rows: list[list[str]]) -> tuple[int, int]:
        width = min(len(r) for r in rows)
        tag_cols = [c for c in range(width) if all(_IOB.match(r[c]) for r in rows)]
        if not tag_cols:
            raise EvalFileFormatError(f"{path}: no column of IOB2 tags (O, B-X, I-X) found.")
        tag = tag_cols[0]
        # The token is the first column left of the tags that is not a running index (1, 2, 3 ...).
        candidates = [c for c in range(tag) if not all(r[c].isdigit() for r in rows)] or [
            c for c in range(width) if c != tag
        ]
        return (candidates[0] if candidates else 0), tag

    def flush() -> Iterator[TokenClassificationExample]:
        nonlocal token_col, tag_col, count
        if not sentence:
            return
        if token_col is None or tag_col is None:
            token_col, tag_col = detect(sentence)
        try:
            tokens = tuple(r[token_col] for r in sentence)
            tags = tuple(r[tag_col] for r in sentence)
        except IndexError:
            raise EvalFileFormatError(f"{path}: sentence {count + 1} has a row with too few columns.") from None
        yield TokenClassificationExample(tokens=tokens, tags=tags, id=f"{path.stem}:{count}")
        count += 1
        sentence.clear()

    with _open_text(path) as handle:
        for line in handle:
            line = line.rstrip("\r\n")
            if line.startswith("#"):
                continue
            if not line.strip():
                yield from flush()
                continue
            sentence.append(line.split("\t") if "\t" in line else line.split())
        yield from flush()


def parse_squad(path: Path) -> Iterator[QuestionAnsweringExample]:
    with _open_text(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as exc:
            raise EvalFileFormatError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}).") from None
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list):
        raise EvalFileFormatError(f"{path}: expected SQuAD JSON ({{'data': [{{'paragraphs': [...]}}]}}).")
    for article in articles:
        for paragraph in article.get("paragraphs", []):
            context = paragraph["context"]
            for qa in paragraph.get("qas", []):
                answers = tuple(Answer(str(a["text"]), int(a.get("answer_start", -1))) for a in qa.get("answers", []))
                yield QuestionAnsweringExample(
                    id=str(qa["id"]), context=context, question=qa["question"], answers=answers
                )


def _lines(path: Path) -> list[str]:
    with _open_text(path) as handle:
        text = handle.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def parse_parallel(source: Path, reference: Path) -> Iterator[TranslationExample]:
    sources, references = _lines(source), _lines(reference)
    if len(sources) != len(references):
        raise EvalFileFormatError(
            f"{source} has {len(sources)} lines but {reference} has {len(references)}; they must be line-aligned."
        )
    for number, (src, ref) in enumerate(zip(sources, references, strict=True)):
        yield TranslationExample(source=src, reference=ref, id=str(number))


def parse_text(path: Path) -> Iterator[TextExample]:
    with _open_text(path) as handle:
        number = 0
        for line in handle:
            if line.strip():
                yield TextExample(text=line.rstrip("\r\n"), id=str(number))
                number += 1


def parse_npz_images(path: Path, label_names: Sequence[str]) -> Iterator[ImageExample]:
    import numpy as np

    with np.load(path) as data:
        images, labels = data["images"], data["labels"]
        index = data["test_index"] if "test_index" in data.files else range(len(labels))
        for image, label, idx in zip(images, labels, index, strict=True):
            yield ImageExample(image=image, label=int(label), label_name=label_names[int(label)], id=str(int(idx)))


def parse_digits_csv(path: Path, label_names: Sequence[str]) -> Iterator[ImageExample]:
    import numpy as np

    data = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    for number, row in enumerate(data):
        label = int(row[-1])
        yield ImageExample(image=row[:-1].reshape(8, 8), label=label, label_name=label_names[label], id=str(number))


def parse_audio_files(
    folder: Path, pattern: str, label_regex: str, label_names: Sequence[str], sampling_rate: int | None = None
) -> Iterator[AudioExample]:
    regex = re.compile(label_regex)
    for path in sorted(folder.glob(pattern)):
        match = regex.search(path.name)
        if not match:
            raise EvalFileFormatError(f"{path}: the file name does not match {label_regex!r}; cannot read its label.")
        label, name = _label_index(match.group(1), label_names, str(path))
        yield AudioExample(path=path, label=label, label_name=name, sampling_rate=sampling_rate, id=path.stem)


# Parser name -> function(spec, location) -> iterator of examples.
def _registered_delimited(spec: EvalSetSpec, location: Location) -> Iterator[Any]:
    opts = dict(spec.options)
    paths = [location.path(f.path) for f in spec.data_files]
    common: dict[str, Any] = {
        "delimiter": opts.get("delimiter"),
        "header": bool(opts.get("header", True)),
        "columns": tuple(opts.get("columns", ())),
    }
    if spec.task == "summarization":
        return parse_summarization(
            paths,
            document_column=opts.get("document_column", "document"),
            reference_column=opts.get("reference_column", "reference"),
            **common,
        )
    return parse_text_classification(
        paths,
        spec.label_names,
        text_column=opts.get("text_column", "text"),
        label_column=opts.get("label_column", "label"),
        text_pair_column=opts.get("text_pair_column"),
        **common,
    )


def _registered_conll(spec: EvalSetSpec, location: Location) -> Iterator[Any]:
    for f in spec.data_files:
        yield from parse_conll(location.path(f.path))


def _registered_squad(spec: EvalSetSpec, location: Location) -> Iterator[Any]:
    for f in spec.data_files:
        yield from parse_squad(location.path(f.path))


def _registered_parallel(spec: EvalSetSpec, location: Location) -> Iterator[Any]:
    return parse_parallel(location.path(spec.options["source"]), location.path(spec.options["reference"]))


def _registered_text(spec: EvalSetSpec, location: Location) -> Iterator[Any]:
    for f in spec.data_files:
        yield from parse_text(location.path(f.path))


def _registered_npz(spec: EvalSetSpec, location: Location) -> Iterator[Any]:
    return parse_npz_images(location.path(spec.options["file"]), spec.label_names)


def _registered_digits(spec: EvalSetSpec, location: Location) -> Iterator[Any]:
    return parse_digits_csv(location.path(spec.options["file"]), spec.label_names)


def _registered_audio_files(spec: EvalSetSpec, location: Location) -> Iterator[Any]:
    o = spec.options
    return parse_audio_files(
        location.directory, o["pattern"], o["label_regex"], spec.label_names, o.get("sampling_rate")
    )


def _registered_audio_transcript(spec: EvalSetSpec, location: Location) -> Iterator[Any]:
    o = spec.options
    path = location.path(o["file"])
    yield AudioExample(path=path, transcript=o["transcript"], sampling_rate=o.get("sampling_rate"), id=path.stem)


PARSERS: dict[str, Callable[[EvalSetSpec, Location], Iterator[Any]]] = {
    "delimited": _registered_delimited,
    "conll": _registered_conll,
    "squad": _registered_squad,
    "parallel": _registered_parallel,
    "text": _registered_text,
    "npz_images": _registered_npz,
    "digits_csv": _registered_digits,
    "audio_files": _registered_audio_files,
    "audio_transcript": _registered_audio_transcript,
}


# ------------------------------------------------------------------------------------------------------ EvalSet


@dataclass
class EvalSet:
    """A loaded evaluation set: its metadata, where its files are, and its (possibly sampled) examples."""

    spec: EvalSetSpec
    location: Location
    examples: list[Any]
    total: int  # examples in the whole set, before sampling
    limit: int | None = None
    seed: int = 0
    file_sha256: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def task(self) -> str:
        return self.spec.task

    @property
    def label_names(self) -> tuple[str, ...]:
        return self.spec.label_names

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.examples)

    def full_text(self, separator: str = "\n") -> str:
        """Language modelling: the kept lines joined (perplexity is computed over this one string)."""
        return separator.join(e.text for e in self.examples)

    def describe(self) -> dict[str, Any]:
        """Provenance to store next to a score: which set, which sample, which files."""
        return {
            "name": self.spec.name,
            "task": self.spec.task,
            "language": self.spec.language,
            "license": self.spec.license,
            "source": str(self.spec.source),
            "split": self.spec.split,
            "n_examples": len(self.examples),
            "n_total": self.total,
            "limit": self.limit,
            "seed": self.seed,
            "location": str(self.location.directory),
            "files": {f.path: f.sha256 for f in self.spec.data_files} or self.file_sha256,
        }


def sample(examples: Sequence[Any], limit: int | None, seed: int = 0) -> list[Any]:
    """A seeded random sample of `limit` examples, kept in file order; everything when limit is None or larger."""
    if limit is not None and limit < 0:
        raise UsageError(f"limit must be a positive number of examples, not {limit}.")
    if limit is None or limit >= len(examples):
        return list(examples)
    chosen = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in chosen]


def iter_examples(name: str | EvalSetSpec, *, task: str | None = None, download: bool | None = None) -> Iterator[Any]:
    """Stream a registered set's examples in file order (checksums verified first)."""
    spec = name if isinstance(name, EvalSetSpec) else get(name, task)
    location = ensure_available(spec, download=download)
    return PARSERS[spec.parser](spec, location)


def load(
    name: str | EvalSetSpec,
    limit: int | None = None,
    seed: int = 0,
    *,
    task: str | None = None,
    download: bool | None = None,
) -> EvalSet:
    """A registered set, verified and parsed; a seeded sample of `limit` examples when limit is given."""
    spec = name if isinstance(name, EvalSetSpec) else get(name, task)
    location = ensure_available(spec, download=download)
    examples = list(PARSERS[spec.parser](spec, location))
    return EvalSet(
        spec=spec,
        location=location,
        examples=sample(examples, limit, seed),
        total=len(examples),
        limit=limit,
        seed=seed,
    )


def availability(spec: EvalSetSpec) -> tuple[str, str | None]:
    """('available', dir) | ('downloadable', None) | ('missing', None), without hashing or downloading."""
    location = find(spec)
    if location is not None:
        return location.kind, str(location.directory)
    return ("downloadable" if spec.downloadable and downloads_allowed() else "missing"), None


def listing(task: str | None = None) -> list[dict[str, Any]]:
    """One row per registered set for `catalog bench evalsets`."""
    rows = []
    for spec in list_sets(task):
        where, directory = availability(spec)
        rows.append(
            {
                "name": spec.name,
                "aliases": list(spec.aliases),
                "task": spec.task,
                "also_tasks": list(spec.also_tasks),
                "language": spec.language,
                "n_examples": spec.n_examples,
                "license": spec.license,
                "license_note": spec.license_note,
                "source": str(spec.source),
                "split": spec.split,
                "label_schema": spec.label_schema,
                "available": directory is not None,
                "where": where,
                "path": directory,
            }
        )
    return rows


# --------------------------------------------------------------------------------------------------- user files


_EXTENSIONS = {
    "text-classification": "CSV, TSV or JSON Lines",
    "feature-extraction": "CSV, TSV or JSON Lines",
    "summarization": "CSV, TSV or JSON Lines (document + reference columns), or two line-aligned text files",
    "token-classification": "CoNLL / IOB2 columns",
    "question-answering": "SQuAD JSON",
    "translation": "two line-aligned text files (source, reference)",
    "text-generation": "plain text (optionally .gz)",
}


def _sorted_labels(values: Iterable[str]) -> tuple[str, ...]:
    unique = sorted(set(v.strip() for v in values))
    if all(v.lstrip("-").isdigit() for v in unique):
        unique.sort(key=int)
    return tuple(unique)


def from_file(
    path: str | Path,
    task: str,
    *,
    text_column: str = "text",
    label_column: str = "label",
    text_pair_column: str | None = None,
    document_column: str = "document",
    reference_column: str = "reference",
    reference: str | Path | None = None,
    label_names: Sequence[str] | None = None,
    delimiter: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    name: str | None = None,
    language: str = "",
) -> EvalSet:
    """Your own labelled data as an EvalSet, with the sha256 of each file recorded.

    text-classification: CSV/TSV/JSON Lines with text_column and label_column (labels as names; their sorted set
    becomes label_names unless given); token-classification: CoNLL/IOB2; question-answering: SQuAD JSON;
    translation (and summarization): `path` = sources, `reference` = line-aligned references, or for
    summarization a delimited file with document/reference columns; text-generation: plain text for perplexity.
    """
    if task not in EVALSET_TASKS:
        raise UsageError(f"Unknown task {task!r} for a data file; expected one of: {', '.join(_EXTENSIONS)}.")
    source = Path(path).expanduser()
    paths = [source] + ([Path(reference).expanduser()] if reference is not None else [])
    for p in paths:
        if not p.is_file():
            raise EvalSetNotFoundError(f"Data file {p} does not exist (expected {_EXTENSIONS.get(task, 'a file')}).")
    digests = {str(p): sha256_of(p) for p in paths}
    names: tuple[str, ...] = tuple(label_names or ())
    try:
        examples, names = _user_examples(
            task, source, reference, names, text_column=text_column, label_column=label_column,
            text_pair_column=text_pair_column, document_column=document_column, reference_column=reference_column,
            delimiter=delimiter,
        )  # fmt: skip
    except UnicodeDecodeError as exc:
        raise EvalFileFormatError(
            f"{' or '.join(str(p) for p in paths)}: not UTF-8 text ({exc.reason} at byte {exc.start} of a block). "
            "Save the file as UTF-8."
        ) from None
    except csv.Error as exc:
        raise EvalFileFormatError(
            f"{source}: not readable as CSV/TSV ({exc}; a field may hold at most {csv.field_size_limit():,} "
            "characters). Fix the file, or use JSON Lines."
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        if isinstance(exc, EvalFileFormatError):
            raise
        raise EvalFileFormatError(
            f"{source}: not a valid {task} file ({type(exc).__name__}: {str(exc)[:200]}). Expected "
            f"{_EXTENSIONS.get(task, 'a data file')}."
        ) from None
    except OSError as exc:
        raise EvalFileFormatError(f"{source}: cannot read it ({exc.strerror or exc}).") from None
    if not examples:
        raise EvalFileFormatError(f"{source} holds no examples for {task}.")
    spec = EvalSetSpec(
        name=name or source.stem,
        folder=str(source.parent),
        task=task,
        parser="delimited",
        files=(),
        title=f"user file {source.name}",
        language=language,
        license="user-provided",
        source=Source(repo="local file", path=" + ".join(str(p) for p in paths)),
        split="whole file",
        label_names=names,
        n_examples=len(examples),
    )
    spec = replace(spec, parser=_USER_PARSER.get(task, "delimited"))
    return EvalSet(
        spec=spec,
        location=Location("user-file", source.parent),
        examples=sample(examples, limit, seed),
        total=len(examples),
        limit=limit,
        seed=seed,
        file_sha256=digests,
    )


def _user_examples(
    task: str,
    source: Path,
    reference: str | Path | None,
    names: tuple[str, ...],
    *,
    text_column: str,
    label_column: str,
    text_pair_column: str | None,
    document_column: str,
    reference_column: str,
    delimiter: str | None,
) -> tuple[list[Any], tuple[str, ...]]:
    """The examples of a user file for `task` and its label names (given, or the sorted set found)."""
    examples: list[Any]
    if task in ("text-classification", "feature-extraction", "audio-classification", "image-classification"):
        if task in ("audio-classification", "image-classification"):
            raise UsageError(f"{task} from your own files is not supported yet; use a registered set.")
        rows = list(read_rows(source, delimiter))
        if not names:
            names = _sorted_labels(_column(r, label_column, source) for r in rows)
        examples = []
        for number, row in enumerate(rows):
            label, label_name = _label_index(_column(row, label_column, source), names, f"{source} row {number + 1}")
            examples.append(
                TextClassificationExample(
                    text=_column(row, text_column, source).strip(),
                    label=label,
                    label_name=label_name,
                    text_pair=_column(row, text_pair_column, source).strip() if text_pair_column else None,
                    id=str(number),
                )
            )
    elif task == "token-classification":
        examples = list(parse_conll(source))
        if not names:
            names = tuple(sorted({t[2:] for e in examples for t in e.tags if t != "O"}))
    elif task == "question-answering":
        examples = list(parse_squad(source))
    elif task == "translation" or (task == "summarization" and reference is not None):
        if reference is None:
            raise UsageError("translation from files needs the source file and a line-aligned reference file.")
        pairs = list(parse_parallel(source, Path(reference).expanduser()))
        examples = (
            pairs
            if task == "translation"
            else [SummarizationExample(document=p.source, reference=p.reference, id=p.id) for p in pairs]
        )
    elif task == "summarization":
        examples = list(
            parse_summarization(
                [source], document_column=document_column, reference_column=reference_column, delimiter=delimiter
            )
        )
    elif task == "text-generation":
        examples = list(parse_text(source))
    else:
        raise UsageError(f"{task} from your own files is not supported; supported: {', '.join(_EXTENSIONS)}.")
    return examples, names


_USER_PARSER = {
    "token-classification": "conll",
    "question-answering": "squad",
    "translation": "parallel",
    "text-generation": "text",
}
