"""The start-up path stays light: the CLI and the recommender never load torch, transformers, bench or pandas, and
the read path runs without the ORM, and `catalog tasks` and `catalog recommend` read a current SQLite file without
SQLAlchemy at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("torch", "transformers", "bench", "pandas", "numpy", "huggingface_hub", "alembic", "pydantic")


def _loaded_after(code: str, env_extra: dict[str, str]) -> set[str]:
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    env = dict(os.environ) | env_extra
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def _heavy(modules: set[str]) -> set[str]:
    found = {m for m in modules if m.split(".")[0] in HEAVY}
    return found | {m for m in modules if m == "sqlalchemy.orm" or m == "catalog.db.models"}


def test_import_cli_loads_nothing_heavy() -> None:
    assert _heavy(_loaded_after("import catalog.cli", {})) == set()


def test_running_tasks_and_recommend_loads_nothing_heavy(tmp_path: Path, mini_taxonomy: Path) -> None:
    env = {"CATALOG_DATA_DIR": str(tmp_path)}
    # First run seeds the database (pydantic and alembic are allowed then); later runs must stay light.
    _loaded_after("from catalog.cli import main\ntry:\n    main(['tasks'])\nexcept SystemExit:\n    pass", env)
    for args in (["tasks"], ["recommend", "--task", "ner"], ["--help"]):
        code = f"from catalog.cli import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass"
        loaded = _loaded_after(code, env)
        assert _heavy(loaded) == set(), f"catalog {' '.join(args)} imported {sorted(_heavy(loaded))}"
        if args[0] in ("recommend", "tasks"):  # a current SQLite file is read with sqlite3 (catalog.db.reader)
            assert "sqlalchemy" not in loaded


def test_recommend_reads_the_data_files_without_pyyaml_once_parsed(tmp_path: Path, mini_taxonomy: Path) -> None:
    """licenses.yaml and metrics.yaml are parsed once per version of the file; later runs read the JSON copy in the
    data dir, so `catalog recommend` never imports PyYAML (~30 ms) after the first run."""
    env = {"CATALOG_DATA_DIR": str(tmp_path)}
    code = "from catalog.cli import main\ntry:\n    main(['recommend', '--task', 'ner'])\nexcept SystemExit:\n    pass"
    assert "yaml" in _loaded_after(code, env)  # the first run seeds the database and parses the data files
    assert "yaml" not in _loaded_after(code, env)
    assert {p.name.split("-")[0] for p in (tmp_path / "cache").glob("*.json")} >= {"licenses", "metrics"}


def test_a_changed_data_file_is_parsed_again(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from catalog import settings

    monkeypatch.setenv("CATALOG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(settings, "data_path", lambda name: tmp_path / name)
    source = tmp_path / "things.yaml"
    source.write_text("a: [1, 2]\n", encoding="utf-8")
    assert settings.load_data_yaml("things.yaml") == {"a": [1, 2]}
    assert settings.load_data_yaml("things.yaml") == {"a": [1, 2]}  # from the copy
    source.write_text("a: [1, 2, 3]\nb: x\n", encoding="utf-8")  # another size: another copy
    assert settings.load_data_yaml("things.yaml") == {"a": [1, 2, 3], "b": "x"}
    assert len(list((tmp_path / "data" / "cache").glob("things-*.json"))) == 1  # the stale copy is gone
