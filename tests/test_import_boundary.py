"""The start-up path stays light: the CLI and the recommender never load torch, transformers, bench or pandas, and
the read path (tasks, recommend) runs on SQLAlchemy Core without the ORM (about 0.1 s of imports here)."""

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
