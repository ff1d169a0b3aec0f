"""Hub payloads become typed records here, once. Unknown fields are ignored; a malformed item raises
MalformedItem (the caller counts and skips it) instead of ending the whole listing."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


class MalformedItem(ValueError):
    """One list item that cannot be used (no id, wrong types, bad dates)."""


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

    def digest(self) -> str:
        """Identity of the facts a sync writes: equal digests mean nothing to update."""
        payload = json.dumps(self.to_hub_dict(), sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]

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
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise MalformedItem(f"{name} is a boolean, not a count")
    if isinstance(value, int):
        if value < 0:
            raise MalformedItem(f"{name} is negative")
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise MalformedItem(f"{name} is not a count: {str(value)[:40]!r}")


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedItem(f"{name} is not a string")
    return value


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_item(raw: Any) -> HubModel:
    """One list_models / model_info item (Hub field names) -> HubModel, or MalformedItem."""
    if not isinstance(raw, dict):
        raise MalformedItem("item is not an object")
    model_id = raw.get("id", raw.get("modelId"))
    if not isinstance(model_id, str) or not model_id.strip():
        raise MalformedItem("item has no id")
    model_id = model_id.strip()
    if not model_id or len(model_id) > 255 or any(c.isspace() for c in model_id):
        raise MalformedItem(f"invalid id {model_id[:60]!r}")
    tags_raw = raw.get("tags") or []
    if not isinstance(tags_raw, list) or not all(isinstance(t, str) for t in tags_raw):
        raise MalformedItem("tags is not a list of strings")
    gated_raw = raw.get("gated", False)
    gated = gated_raw not in (False, None, "false", "False", "")
    safetensors = _mapping(raw.get("safetensors"))
    total = safetensors.get("total")
    model_index = raw.get("model-index")
    if model_index is None:
        model_index = _mapping(raw.get("cardData")).get("model-index")
    return HubModel(
        id=model_id,
        author=_text(raw.get("author"), "author") or (model_id.split("/")[0] if "/" in model_id else None),
        pipeline_tag=_text(raw.get("pipeline_tag"), "pipeline_tag") or None,
        library_name=_text(raw.get("library_name"), "library_name") or None,
        tags=tuple(tags_raw),
        downloads=_count(raw.get("downloads"), "downloads"),
        likes=_count(raw.get("likes"), "likes"),
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
    )
