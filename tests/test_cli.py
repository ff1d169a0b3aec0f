"""The CLI contract: help everywhere, JSON shapes, one-line errors with exit 1, Chinese names."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import click
import pytest

from catalog.cli import cli


def _all_commands() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []

    def walk(prefix: str, command: click.Command) -> None:
        found.append((prefix, command))
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(f"{prefix} {name}".strip(), sub)

    walk("", cli)
    return found


@pytest.mark.parametrize("name,command", _all_commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_has_help(name: str, command: click.Command, run_cli) -> None:  # type: ignore[no-untyped-def]
    assert (command.help or "").strip(), f"`catalog {name}` has no help text"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden and param.name not in ("help", "version"):
            assert param.help, f"`catalog {name}` option {param.opts} has no help"
    result = run_cli(*(name.split() if name else []), "--help")
    assert result.code == 0
    assert "Usage:" in result.out


def test_tasks_json_shape(run_cli, mini_taxonomy: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("tasks", "--format", "json")
    assert result.code == 0, result.err
    rows = result.json()
    assert isinstance(rows, list) and rows
    for row in rows:
        assert {"id", "aliases", "name_en", "name_zh", "modality"} <= set(row)
    ner = next(r for r in rows if r["id"] == "token-classification")
    assert ner["aliases"] == ["ner"] and ner["name_zh"] == "词元分类"


def test_families_json_shape_and_filter(run_cli, mini_taxonomy: Path) -> None:  # type: ignore[no-untyped-def]
    rows = run_cli("families", "--format", "json").json()
    assert {"name", "architecture"} <= set(rows[0])
    only = run_cli("families", "--architecture", "decoder-only", "--format", "json").json()
    assert {r["name"] for r in only} == {"GPT-2", "Claude 3"}


MODEL_KEYS = {"id", "pipeline_tag", "family", "architecture", "params", "license", "languages", "downloads"}


def test_models_json_shape_and_filters(run_cli, mini_taxonomy: Path) -> None:  # type: ignore[no-untyped-def]
    rows = run_cli("models", "--format", "json").json()
    assert len(rows) == 4
    for row in rows:
        assert set(row) >= MODEL_KEYS
        assert isinstance(row["languages"], list)
    assert [r["id"] for r in run_cli("models", "--task", "ner", "--format", "json").json()] == [
        "dslim/bert-base-NER",
        "example/small-ner",
    ]
    assert [r["id"] for r in run_cli("models", "--language", "zh", "--format", "json").json()] == ["example/small-ner"]
    assert {r["license"] for r in run_cli("models", "--license", "mit", "--format", "json").json()} == {"mit"}
    assert [r["id"] for r in run_cli("models", "--family", "GPT-2", "--format", "json").json()] == [
        "openai-community/gpt2"
    ]
    assert len(run_cli("models", "--limit", "1", "--format", "json").json()) == 1
    assert len(run_cli("models", "--limit", "0", "--format", "json").json()) == 4


def test_models_csv(run_cli, mini_taxonomy: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("models", "--task", "ner", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert rows[1]["languages"] == "zh;en"
    assert set(rows[0]) >= MODEL_KEYS


def test_recommend_json_shape(run_cli, mini_taxonomy: Path) -> None:  # type: ignore[no-untyped-def]
    rows = run_cli("recommend", "--task", "ner", "--format", "json").json()
    assert [r["rank"] for r in rows] == [1, 2]
    for row in rows:
        assert MODEL_KEYS | {"rank", "score", "why"} <= set(row)
        assert row["pipeline_tag"] == "token-classification"
        assert row["why"]
    assert rows[0]["score"] >= rows[1]["score"]


def test_recommend_table_says_where_figures_come_from(run_cli, mini_taxonomy: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("recommend", "--task", "ner")
    assert result.code == 0
    assert "dslim/bert-base-NER" in result.out
    assert "[card]" in result.out and "[est.]" in result.out  # figure sources in the cells
    assert "[here] measured on this machine, [card] model card or Hub" in " ".join(result.out.split())


def test_show_and_task(run_cli, mini_taxonomy: Path) -> None:  # type: ignore[no-untyped-def]
    shown = run_cli("show", "dslim/bert-base-NER", "--format", "json").json()
    assert shown[0]["reported"][0]["metric"] == "seqeval-f1"
    table = run_cli("show", "dslim/bert-base-NER")
    assert "reported: model card" in table.out
    detail = run_cli("task", "ner", "--format", "json").json()
    assert detail["id"] == "token-classification"
    assert detail["suitable_architectures"] == ["encoder-only"]
    assert detail["suitable_families"] == ["bert"]
    assert [m["id"] for m in detail["top_models"]][0] == "dslim/bert-base-NER"


def test_chinese_names(run_cli, mini_taxonomy: Path) -> None:  # type: ignore[no-untyped-def]
    assert "词元分类" in run_cli("tasks", "--lang", "zh").out
    assert "仅编码器" in run_cli("architectures", "--lang", "zh").out
    assert "Token classification" in run_cli("tasks").out


@pytest.mark.parametrize(
    "args,message",
    [
        (("recommend", "--task", "nerr"), "Error: Unknown task 'nerr'. Did you mean: ner?"),
        (("models", "--task", "nerr"), "Error: Unknown task 'nerr'. Did you mean: ner?"),
        (("task", "summarisation"), "Error: Unknown task 'summarisation'."),
        (
            ("show", "dslim/bert-base-NE"),
            "Error: Unknown model 'dslim/bert-base-NE'. Did you mean: dslim/bert-base-NER?",
        ),
        (("models", "--license", "mitt"), "Error: Unknown license 'mitt'. Did you mean: mit?"),
        (
            ("families", "--architecture", "encoder"),
            "Error: Unknown architecture 'encoder'. Did you mean: encoder-only",
        ),
        (("models", "--limit", "-1"), "Error: --limit must be 0 (all) or a positive number"),
        (("--db", "not a url", "tasks"), "Error: Bad database URL 'not a url'"),
        (("tasks", "--db", "postgresql+psycopg://u:pw@127.0.0.1:9/x"), "Error: Cannot open the database"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(run_cli, mini_taxonomy: Path, args, message) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*args)
    assert result.code == 1
    assert result.err.startswith(message), result.err
    assert result.err.count("\n") == 1
    assert "Traceback" not in result.err and result.out == ""


def test_invalid_taxonomy_is_one_line(run_cli, mini_taxonomy: Path) -> None:  # type: ignore[no-untyped-def]
    mini_taxonomy.write_text("version: 1\narchitectures: []\n", encoding="utf-8")
    result = run_cli("tasks")
    assert result.code == 1
    assert result.err.startswith(f"Error: {mini_taxonomy}: at architectures:")
    assert result.err.count("\n") == 1


def test_debug_shows_the_traceback(tmp_path: Path, mini_taxonomy: Path) -> None:
    env = {
        "CATALOG_DEBUG": "1",
        "CATALOG_TAXONOMY": str(mini_taxonomy),
        "CATALOG_DATA_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "catalog", "recommend", "--task", "nerr"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "UnknownTaskError" in proc.stderr
    env.pop("CATALOG_DEBUG")
    proc = subprocess.run(
        [sys.executable, "-m", "catalog", "recommend", "--task", "nerr"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 1
    assert proc.stderr == "Error: Unknown task 'nerr'. Did you mean: ner?\n"


def test_usage_errors_exit_2(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("recommend")
    assert result.code == 2
    assert "Missing option '--task'" in result.err
