"""The hardware facts are probed once per boot and read back from the data dir by later commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog import hardware


@pytest.fixture
def probes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    boot = tmp_path / "boot_id"
    boot.write_text("boot-1\n")
    monkeypatch.setattr(hardware, "BOOT_ID", boot)
    calls: list[bool] = []
    real = hardware._probe

    def counted(with_torch: bool) -> dict[str, Any]:
        calls.append(with_torch)
        return real(with_torch)

    monkeypatch.setattr(hardware, "_probe", counted)
    hardware._fingerprint.cache_clear()
    yield calls
    hardware._fingerprint.cache_clear()


def _new_process() -> dict[str, Any]:
    hardware._fingerprint.cache_clear()  # what a new command starts with
    return hardware.fingerprint()


def test_probed_once_per_boot(probes: list[bool], tmp_path: Path) -> None:
    first = _new_process()
    assert _new_process() == first and probes == [False]
    (tmp_path / "boot_id").write_text("boot-2\n")
    assert _new_process()["machine_id"] == first["machine_id"] and probes == [False, False]


def test_a_damaged_cache_is_probed_again(probes: list[bool], isolated_environment: Path) -> None:
    first = _new_process()
    (isolated_environment / "cache" / hardware.FINGERPRINT_CACHE).write_text('{"boot_id": "boot-1", "facts": [')
    assert _new_process() == first and probes == [False, False]
    cache = json.loads((isolated_environment / "cache" / hardware.FINGERPRINT_CACHE).read_text())
    assert cache["boot_id"] == "boot-1" and cache["facts"]["machine_id"] == first["machine_id"]


def test_without_a_boot_id_nothing_is_kept(
    probes: list[bool], tmp_path: Path, isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hardware, "BOOT_ID", tmp_path / "absent")
    _new_process()
    _new_process()
    assert probes == [False, False] and not (isolated_environment / "cache" / hardware.FINGERPRINT_CACHE).exists()


def test_torchs_view_is_never_cached(probes: list[bool]) -> None:
    hardware._fingerprint.cache_clear()
    hardware.fingerprint(with_torch=True)
    hardware._fingerprint.cache_clear()
    hardware.fingerprint(with_torch=True)
    assert probes == [True, True]


def test_default_threads_are_the_physical_cores(probes: list[bool]) -> None:
    import psutil

    assert hardware.default_threads() == (psutil.cpu_count(logical=False) or 1)
