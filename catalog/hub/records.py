"""Hub payloads become typed records here, once. Unknown fields are ignored; a malformed item raises
MalformedItem (the caller counts and skips it) instead of ending the whole listing.

Nothing one item holds may stop a listing: JSON is read with numbers of any length (Python refuses to convert
more than 4,300 digits), an item nested too deeply or not valid JSON costs that item only (`json_array_items`),
bytes that are not UTF-8 become lone surrogates that `parse_item` refuses, and counts and dates are checked
against what the database columns can hold."""

from __future__ import annotations

import codecs
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

MAX_BIGINT = 2**63 - 1  # BigInteger columns (downloads, params)
MAX_INTEGER = 2**31 - 1  # Integer columns (likes) on PostgreSQL
MAX_TAG_CHARS = 1000  # Hub tags are short ('base_model:finetune:<255-character id>' at most)
_MAX_INT_DIGITS = 64  # longer integers are read as floats (inf beyond 1e308) and refused where a count is due


class MalformedItem(ValueError):
    """One list item that cannot be used (no id, wrong types, bad dates). The text before the first colon is
    the reason a sync counts skips under."""


@dataclass(frozen=True)
class Unreadable:
    """Stands in for an item that could not even be parsed (not JSON, nested too deeply, not UTF-8), so that
    the listing goes on and parse_item counts it as a skip."""

    reason: str


def _parse_int(text: str) -> int | float:
    return int(text) if len(text) <= _MAX_INT_DIGITS else float(text)


def loads(text: str | bytes) -> Any:
    """json.loads that accepts numbers of any length (see _parse_int); raises ValueError or RecursionError."""
    return json.loads(text, parse_int=_parse_int)


def decode_text(data: bytes) -> str:
    """UTF-8 text with a BOM dropped; undecodable bytes become lone surrogates, which parse_item refuses, so
    a page or file with one bad item loses that item only."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    return data.decode("utf-8", errors="surrogateescape")


def unreadable_reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, MemoryError):
        return "too large to read"
    return "not valid JSON"


# A JSON string token (escapes included) or a structural character: enough to find where each item of an
# array starts and ends without parsing it (no recursion, so depth costs nothing).
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]', re.DOTALL)


def json_array_items(text: str) -> list[Any]:
    """The items of a JSON array. When the whole text does not parse, each item is parsed on its own and those
    that fail become `Unreadable`; raises ValueError when the text is not a JSON array at all."""
    try:
        value = loads(text)
    except (ValueError, RecursionError, MemoryError):
        return _split_array(text)
    if not isinstance(value, list):
        raise ValueError("not a JSON array")
    return value


def _split_array(text: str) -> list[Any]:
    start = len(text) - len(text.lstrip())
    if not text.startswith("[", start):
        raise ValueError("not a JSON array")
    items: list[Any] = []
    depth = 0
    item_start = start + 1
    end = None

    def take(stop: int, last: bool) -> None:
        chunk = text[item_start:stop]
        if last and not chunk.strip() and not items:
            return  # an empty array
        if not chunk.strip():
            items.append(Unreadable(f"not valid JSON: item {len(items) + 1} is empty"))
            return
        try:
            items.append(loads(chunk))
        except (ValueError, RecursionError, MemoryError) as exc:
            items.append(Unreadable(f"{unreadable_reason(exc)}: item {len(items) + 1}"))

    for match in _TOKENS.finditer(text, start):
        token = match.group()
        if token[0] == '"':
            continue
        if token in "[{":
            depth += 1
        elif token in "]}":
            depth -= 1
            if depth == 0:
                take(match.start(), last=True)
                end = match.end()
                break
        elif depth == 1:  # a comma between items
            take(match.start(), last=False)
            item_start = match.end()
    if end is None or text[end:].strip():
        raise ValueError("not a JSON array")
    return items


@dataclass(frozen=True)
class HubModel:
    id: str
    author: str | None = None
    pipeline_tag: str | None = None
    library_name: str | None = None
    tags: tuple[str, ...] = ()
    downloads: int | None = None
    likes: int | None = None
    last_modified: datetime | None = None
    created_at: datetime | None = None
    gated: bool = False
    private: bool = False
    sha: str | None = None
    card_data: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    transformers_info: dict[str, Any] = field(default_factory=dict)
    safetensors_total: int | None = None
    model_index: list[dict[str, Any]] = field(default_factory=list)
    eval_results: list[dict[str, Any]] = field(default_factory=list)  # the Hub's .eval_results entries
    _digest: list[str] = field(default_factory=list, compare=False, repr=False)  # computed once

    def digest(self) -> str:
        """Identity of the facts a sync writes: equal digests mean nothing to update. Raises UnicodeEncodeError
        for text that is not valid Unicode (parse_item checks it)."""
        if not self._digest:
            payload = json.dumps(self.to_hub_dict(), sort_keys=True, default=str, ensure_ascii=False)
            self._digest.append(hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32])
        return self._digest[0]

    def to_hub_dict(self) -> dict[str, Any]:
        """Back to the Hub's own field names (snapshot export)."""
        item: dict[str, Any] = {"id": self.id, "modelId": self.id}
        if self.author is not None:
            item["author"] = self.author
        if self.pipeline_tag is not None:
            item["pipeline_tag"] = self.pipeline_tag
        if self.library_name is not None:
            item["library_name"] = self.library_name
        item["tags"] = list(self.tags)
        if self.downloads is not None:
            item["downloads"] = self.downloads
        if self.likes is not None:
            item["likes"] = self.likes
        if self.last_modified is not None:
            item["lastModified"] = _iso(self.last_modified)
        if self.created_at is not None:
            item["createdAt"] = _iso(self.created_at)
        item["gated"] = self.gated
        item["private"] = self.private
        if self.sha is not None:
            item["sha"] = self.sha
        if self.card_data:
            item["cardData"] = self.card_data
        if self.config:
            item["config"] = self.config
        if self.transformers_info:
            item["transformersInfo"] = self.transformers_info
        if self.safetensors_total is not None:
            item["safetensors"] = {"total": self.safetensors_total}
        if self.model_index:
            item["model-index"] = self.model_index
        if self.eval_results:
            item["evalResults"] = self.eval_results
        return item


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_datetime(value: Any, name: str) -> datetime | None:
    """Hub dates ('2024-02-19T11:06:12.000Z') and the snapshot's ('2024-02-19 11:06:12+00:00'), as naive UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedItem(f"{name} is not a date string")
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise MalformedItem(f"{name} is not a date: {value[:40]!r}") from exc
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError as exc:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC
            raise MalformedItem(f"{name} is out of range: {value[:40]!r}") from exc
    return parsed


def _count(value: Any, name: str, maximum: int = MAX_BIGINT) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise MalformedItem(f"{name} is a boolean, not a count")
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= _MAX_INT_DIGITS:
        number = int(value)  # ASCII digits only: '²'.isdigit() is true, int('²') is an error
    if number is None:
        raise MalformedItem(f"{name} is not a count: {str(value)[:40]!r}")
    if number < 0:
        raise MalformedItem(f"{name} is negative")
    if number > maximum:
        raise MalformedItem(f"{name} is out of range: {str(value)[:40]}")
    return number


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedItem(f"{name} is not a string")
    if "\x00" in value:
        raise MalformedItem(f"{name} contains a NUL character")
    return value


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_item(raw: Any) -> HubModel:
    """One list_models / model_info item (Hub field names) -> HubModel, or MalformedItem."""
    if isinstance(raw, Unreadable):
        raise MalformedItem(raw.reason)
    if not isinstance(raw, dict):
        raise MalformedItem("item is not an object")
    model_id = raw.get("id", raw.get("modelId"))
    if not isinstance(model_id, str) or not model_id.strip():
        raise MalformedItem("item has no id")
    model_id = model_id.strip()
    if not model_id or len(model_id) > 255 or any(c.isspace() or not c.isprintable() for c in model_id):
        raise MalformedItem(f"invalid id: {model_id[:60]!r}")
    tags_raw = raw.get("tags")
    tags_raw = [] if tags_raw is None else tags_raw
    if not isinstance(tags_raw, list) or not all(isinstance(t, str) for t in tags_raw):
        raise MalformedItem("tags is not a list of strings")
    if any(len(t) > MAX_TAG_CHARS or "\x00" in t for t in tags_raw):
        raise MalformedItem(f"tags holds a tag over {MAX_TAG_CHARS} characters or with a NUL character")
    gated_raw = raw.get("gated", False)
    gated = gated_raw not in (False, None, "false", "False", "")
    safetensors = _mapping(raw.get("safetensors"))
    total = safetensors.get("total")
    model_index = raw.get("model-index")
    if model_index is None:
        model_index = _mapping(raw.get("cardData")).get("model-index")
    eval_results = raw.get("evalResults", raw.get("eval_results"))
    record = HubModel(
        id=model_id,
        author=_text(raw.get("author"), "author") or (model_id.split("/")[0] if "/" in model_id else None),
        pipeline_tag=_text(raw.get("pipeline_tag"), "pipeline_tag") or None,
        library_name=_text(raw.get("library_name"), "library_name") or None,
        tags=tuple(tags_raw),
        downloads=_count(raw.get("downloads"), "downloads"),
        likes=_count(raw.get("likes"), "likes", MAX_INTEGER),
        last_modified=parse_datetime(raw.get("lastModified", raw.get("last_modified")), "lastModified"),
        created_at=parse_datetime(raw.get("createdAt", raw.get("created_at")), "createdAt"),
        gated=bool(gated),
        private=bool(raw.get("private") in (True, "True", "true")),
        sha=_text(raw.get("sha"), "sha") or None,
        card_data=_mapping(raw.get("cardData")),
        config=_mapping(raw.get("config")),
        transformers_info=_mapping(raw.get("transformersInfo")),
        safetensors_total=_count(total, "safetensors.total") if total is not None else None,
        model_index=[m for m in model_index if isinstance(m, dict)] if isinstance(model_index, list) else [],
        eval_results=[e for e in eval_results if isinstance(e, dict)] if isinstance(eval_results, list) else [],
    )
    try:
        record.digest()
    except UnicodeEncodeError as exc:  # a lone surrogate (escaped in the JSON, or a byte that was not UTF-8)
        raise MalformedItem("text is not valid UTF-8 or Unicode") from exc
    except RecursionError as exc:
        raise MalformedItem("nested too deeply") from exc
    return record
