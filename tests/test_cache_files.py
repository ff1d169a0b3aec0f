"""settings.read_cache / write_cache: whole JSON files in the data dir's cache folder, or none."""

from __future__ import annotations

import os
import time
from pathlib import Path

from catalog import settings


def test_round_trip_and_missing(isolated_environment: Path) -> None:
    assert settings.read_cache("a.json") is None
    settings.write_cache("a.json", {"x": [1, 2]})
    assert settings.read_cache("a.json") == {"x": [1, 2]}
    (isolated_environment / "cache" / "a.json").write_text("{", encoding="utf-8")
    assert settings.read_cache("a.json") is None


def test_data_json_cannot_hold_leaves_nothing_behind(isolated_environment: Path) -> None:
    settings.write_cache("a.json", {"x": 1})
    settings.write_cache("a.json", {"x": object()})
    assert settings.read_cache("a.json") == {"x": 1}
    assert sorted(p.name for p in (isolated_environment / "cache").iterdir()) == ["a.json"]


def test_older_versions_beyond_keep_are_removed(isolated_environment: Path) -> None:
    for i in range(4):
        settings.write_cache(f"t-{i}.json", i, replaces="t-*.json", keep=3)
        path = isolated_environment / "cache" / f"t-{i}.json"
        os.utime(path, (time.time() + i, time.time() + i))  # distinct modification times, newest last
    assert sorted(p.name for p in (isolated_environment / "cache").glob("t-*.json")) == [
        "t-1.json", "t-2.json", "t-3.json"
    ]  # fmt: skip
    settings.write_cache("t-4.json", 4, replaces="t-*.json")
    assert [p.name for p in (isolated_environment / "cache").glob("t-*.json")] == ["t-4.json"]
