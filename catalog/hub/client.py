"""Page through the Hub's model listing with huggingface_hub's own HTTP session, Link-header pagination,
timeouts, and retries with capped exponential backoff and jitter (honouring Retry-After).

huggingface_hub's list_models builds a ModelInfo per item inside its generator (one bad item ends the whole
listing) and its client has no timeout by default, so the catalog fetches raw pages here and validates each item
itself (catalog.hub.records)."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from catalog.errors import CatalogError

RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
PAGE_SIZE = 1000  # the Hub's maximum page size for /api/models
LIST_EXPAND = (
    "pipeline_tag", "library_name", "tags", "downloads", "likes", "lastModified", "createdAt", "gated", "cardData",
    "config", "transformersInfo", "safetensors", "author", "sha", "private", "model-index",
)  # fmt: skip


class HubError(CatalogError):
    """The Hub (or mirror) could not be used."""


class HubOfflineError(HubError):
    pass


class HubUnavailableError(HubError):
    """Retries exhausted; carries how far the work got so the message can say so."""


@dataclass
class RetryPolicy:
    attempts: int = 6  # tries per request, the first included
    base_s: float = 0.5
    cap_s: float = 30.0
    timeout_s: float = 30.0  # per request: connect, read and write each
    jitter: float = 0.5  # fraction of the delay drawn at random

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap_s)
        raw = min(self.cap_s, self.base_s * (2 ** (attempt - 1)))
        return float(raw * (1 - self.jitter) + random.uniform(0, raw * self.jitter))


@dataclass
class Page:
    items: list[Any]
    next_url: str | None
    url: str


def hub_endpoint() -> str:
    """HF_ENDPOINT (mirrors) read at call time, else huggingface_hub's default."""
    endpoint = os.environ.get("HF_ENDPOINT")
    if endpoint:
        return endpoint.rstrip("/")
    from huggingface_hub import constants

    return str(constants.ENDPOINT).rstrip("/")


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after") if headers is not None else None
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


class HubClient:
    """Fetches listing pages. `on_retry(reason, delay_s)` lets a progress bar count retries."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        on_retry: Callable[[str, float], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if hub_offline():
            raise HubOfflineError(
                "HF_HUB_OFFLINE is set, so the Hub cannot be reached: import a snapshot with "
                "`catalog sync --from-snapshot FILE` (JSON Lines or CSV), or unset HF_HUB_OFFLINE."
            )
        from huggingface_hub.utils import build_hf_headers, get_session  # type: ignore[attr-defined]

        self.endpoint = (endpoint or hub_endpoint()).rstrip("/")
        self.retry = retry or RetryPolicy()
        self.on_retry = on_retry
        self.sleep = sleep
        self.retries = 0
        self._session = get_session()
        # build_hf_headers reads HF_TOKEN / the HF_HOME token file; the token lives only in these headers.
        self._headers = build_hf_headers(library_name="catalog")

    def get(self, url: str, params: list[tuple[str, Any]] | None = None) -> Any:
        """GET with retries on 429/5xx/timeouts/dropped connections; returns the response."""
        import httpx2
        from huggingface_hub.utils import hf_raise_for_status  # type: ignore[attr-defined]

        last_reason = ""
        for attempt in range(1, self.retry.attempts + 1):
            retry_after: float | None = None
            try:
                response = self._session.get(
                    url, params=params, headers=self._headers, timeout=self.retry.timeout_s, follow_redirects=True
                )
                if response.status_code not in RETRY_STATUSES:
                    hf_raise_for_status(response)
                    return response
                retry_after = _retry_after(response.headers)
                last_reason = f"HTTP {response.status_code}"
            except httpx2.TimeoutException:
                last_reason = "timeout"
            except httpx2.TransportError as exc:
                last_reason = f"connection error ({type(exc).__name__})"
            if attempt == self.retry.attempts:
                break
            delay = self.retry.delay(attempt, retry_after)
            self.retries += 1
            if self.on_retry is not None:
                self.on_retry(last_reason, delay)
            self.sleep(delay)
        raise HubUnavailableError(f"{last_reason} after {self.retry.attempts} tries")

    def page(self, url: str, params: list[tuple[str, Any]] | None = None) -> Page:
        response = self.get(url, params)
        try:
            items = response.json()
        except ValueError as exc:
            raise HubUnavailableError("the Hub answered with something that is not JSON") from exc
        if not isinstance(items, list):
            raise HubUnavailableError("the Hub's model listing is not a JSON array")
        next_url = response.links.get("next", {}).get("url")
        return Page(items=items, next_url=next_url, url=str(response.url))

    def list_pages(self, params: list[tuple[str, Any]], start_url: str | None = None) -> Iterator[Page]:
        """Pages of /api/models for `params`, from the start or from a stored next-page URL."""
        page = self.page(start_url) if start_url else self.page(f"{self.endpoint}/api/models", params)
        yield page
        while page.next_url:
            page = self.page(page.next_url)
            yield page


def listing_params(
    *,
    task: str | None,
    sort: str,
    author: str | None = None,
    search: str | None = None,
    page_size: int = PAGE_SIZE,
) -> list[tuple[str, Any]]:
    params: list[tuple[str, Any]] = [("sort", sort), ("direction", -1), ("limit", page_size)]
    if task:
        params.append(("pipeline_tag", task))
    if author:
        params.append(("author", author))
    if search:
        params.append(("search", search))
    params.extend(("expand", field) for field in LIST_EXPAND)
    return params
