"""Page through the Hub's model listing with huggingface_hub's own HTTP session, Link-header pagination,
timeouts, and retries with capped exponential backoff and jitter (honouring Retry-After).

huggingface_hub's list_models builds a ModelInfo per item inside its generator (one bad item ends the whole
listing) and its client has no timeout by default, so the catalog fetches raw pages here and validates each item
itself (catalog.hub.records).

Next-page links are kept as path and query only and always resolved against the endpoint in use, so that a
resumed listing, or a mirror whose Link headers name another host, never sends the token elsewhere."""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from catalog.errors import CatalogError
from catalog.hub.records import decode_text, json_array_items
from catalog.settings import redact_url

RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
PAGE_SIZE = 1000  # the Hub's maximum page size for /api/models
LIST_EXPAND = (
    "pipeline_tag", "library_name", "tags", "downloads", "likes", "lastModified", "createdAt", "gated", "cardData",
    "config", "transformersInfo", "safetensors", "author", "sha", "private", "model-index",
    "evalResults",
)  # fmt: skip


class HubError(CatalogError):
    """The Hub (or mirror) could not be used."""


class HubOfflineError(HubError):
    pass


class HubUnavailableError(HubError):
    """Retries exhausted; carries how far the work got so the message can say so."""


class HubResponseError(HubUnavailableError):
    """The endpoint answered, but not with a model listing (an error page of a proxy, a truncated body)."""


@dataclass
class RetryPolicy:
    """Retries per request. A 429 whose Retry-After is honoured (waited in full) does not use up `attempts`:
    the Hub asked for that pause and the request is expected to succeed after it. Those waits have their own
    bounds: at most `rate_limit_wait_s` in total and `rate_limit_tries` of them per request."""

    attempts: int = 6  # tries per request, the first included
    base_s: float = 0.5
    cap_s: float = 30.0
    timeout_s: float = 30.0  # per request: connect, read and write each
    jitter: float = 0.5  # fraction of the delay drawn at random
    rate_limit_wait_s: float = 900.0  # the Hub's rate-limit windows are 5 minutes: three of them at most
    rate_limit_tries: int = 50

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap_s)
        raw = min(self.cap_s, self.base_s * (2 ** (attempt - 1)))
        return float(raw * (1 - self.jitter) + random.uniform(0, raw * self.jitter))


@dataclass
class Page:
    items: list[Any]
    next_url: str | None  # path and query of the next page (relative to the endpoint), or None
    url: str


def relative_link(url: str, endpoint: str) -> str:
    """Path and query of a (next-page) URL, relative to the endpoint's own path when it has one."""
    parts = urlsplit(url)
    path = parts.path or "/"
    prefix = urlsplit(endpoint).path.rstrip("/")
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        path = path[len(prefix) :] or "/"
    return path + (f"?{parts.query}" if parts.query else "")


def check_endpoint(endpoint: str) -> str:
    """The endpoint without a trailing slash, or HubError when it is not an http(s) URL of a host."""
    problem = ""
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        problem = str(exc)
    else:
        if parts.scheme not in ("http", "https"):
            problem = "it does not start with http:// or https://"
        elif not parts.hostname or any(c.isspace() or not c.isprintable() for c in endpoint):
            problem = "it names no valid host"
        elif parts.query or parts.fragment:
            problem = "it has a query or fragment"
    if problem:
        raise HubError(
            f"HF_ENDPOINT {redact_url(endpoint)[:200]!r} is not a Hub URL ({problem}): set it to the Hub or a "
            "mirror, such as https://huggingface.co, or unset it."
        )
    return endpoint.rstrip("/")


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
    """Retry-After in seconds (a number or an HTTP date), or None when absent or unusable."""
    value = headers.get("retry-after") if headers is not None else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        from datetime import datetime, timezone
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


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

        self.endpoint = check_endpoint(endpoint or hub_endpoint())
        self.display_endpoint = redact_url(self.endpoint)
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
        attempt = 0
        rate_limited_s = 0.0
        rate_limited_tries = 0
        while attempt < self.retry.attempts:
            attempt += 1
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
                if response.status_code == 429 and retry_after is not None:
                    if rate_limited_tries >= self.retry.rate_limit_tries:
                        raise HubUnavailableError(f"rate-limited (HTTP 429) {rate_limited_tries + 1} times in a row")
                    if rate_limited_s + retry_after > self.retry.rate_limit_wait_s:
                        raise HubUnavailableError(
                            f"rate-limited (HTTP 429) for {rate_limited_s + retry_after:.0f} s in all, more than "
                            f"the {self.retry.rate_limit_wait_s:.0f} s this client waits"
                        )
                    attempt -= 1  # an honoured Retry-After does not use up the retry budget
                    rate_limited_s += retry_after
                    rate_limited_tries += 1
                    self.retries += 1
                    if self.on_retry is not None:
                        self.on_retry(last_reason, retry_after)
                    self.sleep(retry_after)
                    continue
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
        """One listing page. An item that cannot be parsed becomes `Unreadable` (a counted skip); a body that
        is not a JSON array at all is an error."""
        response = self.get(url, params)
        try:
            items = json_array_items(decode_text(response.content))
        except ValueError as exc:
            raise HubResponseError("the answer is not a JSON array of models") from exc
        link = response.links.get("next", {}).get("url")
        try:
            next_url = relative_link(link, self.endpoint) if link else None
        except ValueError as exc:
            raise HubResponseError(f"the next-page link is not a URL: {link[:80]!r}") from exc
        return Page(items=items, next_url=next_url, url=redact_url(str(response.url)))

    def list_pages(self, params: list[tuple[str, Any]], start: str | None = None) -> Iterator[Page]:
        """Pages of /api/models for `params`, from the start or from a stored next page (path and query)."""
        page = self.page(self.endpoint + start) if start else self.page(f"{self.endpoint}/api/models", params)
        yield page
        while page.next_url:
            page = self.page(self.endpoint + page.next_url)
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
