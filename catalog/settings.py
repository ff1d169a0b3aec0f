"""The one place that reads environment variables and resolves paths.

CATALOG_DB_URL   any SQLAlchemy URL; default: a SQLite file in the user data dir
CATALOG_TAXONOMY path of catalog.yaml; default: the repository's, else the copy bundled in the wheel
CATALOG_DATA_DIR where the default database lives; default: platformdirs user data dir
CATALOG_DEBUG=1  show tracebacks
CATALOG_LANG     en | zh, the language of names in listings
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent


def debug() -> bool:
    return os.environ.get("CATALOG_DEBUG", "") not in ("", "0", "false", "no")


def auto_calibrate() -> bool:
    """Whether a command that estimates may measure this machine on first use (CATALOG_CALIBRATE=never: it never
    does, and its estimates say they rest on assumed figures)."""
    return os.environ.get("CATALOG_CALIBRATE", "").strip().lower() not in ("never", "0", "no", "false", "off")


def data_dir() -> Path:
    override = os.environ.get("CATALOG_DATA_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("catalog", appauthor=False))


def default_db_url() -> str:
    return f"sqlite:///{data_dir() / 'catalog.db'}"


def db_url(explicit: str | None = None) -> str:
    """--db beats CATALOG_DB_URL beats the embedded SQLite default."""
    return explicit or os.environ.get("CATALOG_DB_URL") or default_db_url()


def _bundled(name: str) -> Path:
    return PACKAGE_DIR / "_bundled" / name


def taxonomy_path() -> Path:
    override = os.environ.get("CATALOG_TAXONOMY")
    if override:
        return Path(override).expanduser()
    in_repo = REPO_ROOT / "catalog.yaml"
    if in_repo.is_file():
        return in_repo
    return _bundled("catalog.yaml")


MAX_TAXONOMY_BYTES = 16 * 2**20  # catalog.yaml is ~110 KB; anything this large is not a taxonomy


def read_taxonomy_file(path: Path, max_bytes: int = MAX_TAXONOMY_BYTES) -> bytes:
    """The bytes of a taxonomy file: a regular file of at most `max_bytes`. A FIFO, a device (/dev/zero) or a
    directory is refused before it is read, so that a wrong CATALOG_TAXONOMY can neither hang nor fill memory."""
    import stat

    from catalog.errors import TaxonomyError

    hint = "Check CATALOG_TAXONOMY."
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer before fstat could refuse it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise TaxonomyError(f"Cannot read taxonomy file {path}: {exc.strerror}. {hint}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise TaxonomyError(f"Taxonomy file {path} is not a regular file (a pipe, device or directory). {hint}")
        if info.st_size > max_bytes:
            raise TaxonomyError(
                f"Taxonomy file {path} is {info.st_size:,} bytes, over the {max_bytes:,}-byte limit. {hint}"
            )
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:  # grew while being read
                raise TaxonomyError(f"Taxonomy file {path} is over the {max_bytes:,}-byte limit. {hint}")
        return b"".join(chunks)
    except OSError as exc:
        raise TaxonomyError(f"Cannot read taxonomy file {path}: {exc.strerror}. {hint}") from exc
    finally:
        os.close(fd)


def data_path(name: str) -> Path:
    """A file the tool owns under data/ (in the repository, or bundled in the wheel)."""
    in_repo = REPO_ROOT / "data" / name
    if in_repo.exists():
        return in_repo
    return _bundled("data") / name


def read_cache(name: str) -> Any:
    """The JSON kept as `name` in the data dir's cache folder, or None when it is missing or unreadable (a cache
    is always rebuilt from its source)."""
    import json

    try:
        return json.loads((data_dir() / "cache" / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_cache(name: str, data: Any, *, replaces: str | None = None, keep: int = 1) -> None:
    """Keep `data` as JSON under `name` in the data dir's cache folder, whole or not at all (a temporary file
    renamed over it). `replaces`: a glob of the versions of this cache, of which the `keep` newest (this one
    included) stay. A read-only or full data dir only means the work is done again next time."""
    import json
    import tempfile

    folder = data_dir() / "cache"
    partial = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=folder, prefix=f".{Path(name).stem}-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.replace(partial, folder / name)
        partial = None
        if replaces is not None:
            older = [p for p in folder.glob(replaces) if p.name != name]
            older.sort(key=lambda p: p.stat().st_mtime, reverse=True)
            for stale in older[max(0, keep - 1) :]:
                stale.unlink(missing_ok=True)
    except (OSError, TypeError, ValueError):
        if partial is not None:
            Path(partial).unlink(missing_ok=True)


def load_data_yaml(name: str) -> Any:
    """A YAML file the tool owns under data/, parsed once per version of the file: the parse is kept as JSON in the
    data dir, keyed by the file's size and modification time, so later processes skip importing PyYAML (~30 ms on
    the start-up path of `catalog recommend`). Any problem with the copy falls back to parsing the YAML."""
    path = data_path(name)
    info = path.stat()
    cached_as = f"{path.stem}-{info.st_size}-{info.st_mtime_ns}.json"
    data = read_cache(cached_as)
    if data is not None:
        return data
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML was built with it; safe either way
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    write_cache(cached_as, data, replaces=f"{path.stem}-*.json")
    return data


_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/?#@\s:]*)(?P<password>:[^/?#@\s]*)?@")


def redact_url(text: str) -> str:
    """`text` with the credentials of every URL in it hidden (`http://user:***@host`; a user name alone is
    taken for a token and hidden too), for anything stored or shown: an endpoint, a source, a message."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user'] + ':***' if m['password'] is not None else '***'}@", text)


def display_language(explicit: str | None = None) -> str:
    lang = (explicit or os.environ.get("CATALOG_LANG") or "en").lower()
    return "zh" if lang.startswith("zh") else "en"
