"""Seeded, bounded fuzzing of what a user hands the catalog: numbers on the command line, catalog.yaml and
evaluation files. For every case: either it is accepted, or it is refused with one line on stderr (a typed
error, never "unexpected"), a non-zero exit, and the database exactly as it was.

Each test prints how many cases it tried, accepted and refused (`pytest -s tests/test_fuzz.py`)."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.pool import NullPool

from catalog.db import open_database
from catalog.db.schema import metadata
from catalog.errors import CatalogError
from tests.conftest import MINI_TAXONOMY

SEED = 20240920


_ENGINES: dict[str, Engine] = {}


def db_digest(url: str) -> str:
    """Every row of every catalog table, in key order: equal digests mean an unchanged database."""
    engine = _ENGINES.get(url) or _ENGINES.setdefault(url, create_engine(url, poolclass=NullPool))
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            digest.update(table.name.encode())
            for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


class Tally:
    """Counts the cases and collects the broken ones, so that one run reports all of them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tried = self.accepted = self.refused = 0
        self.failures: list[str] = []

    def check(self, case: str, code: int, out: str, err: str, before: str | None, after: str | None) -> None:
        self.tried += 1
        problems = []
        if "Traceback" in err or "unexpected" in err:
            problems.append("unexpected error")
        if code == 0:
            self.accepted += 1
        else:
            self.refused += 1
            lines = [line for line in err.splitlines() if line.strip()]
            if len(lines) != 1 or not lines[0].startswith("Error: "):
                problems.append(f"not a one-line error: {err[:300]!r}")
            if before is not None and before != after:
                problems.append("database changed on refusal")
        if problems:
            self.failures.append(f"{case}: {'; '.join(problems)} (exit {code}, stderr {err[:200]!r})")

    def report(self) -> None:
        print(
            f"\n{self.name}: {self.tried} cases, {self.accepted} accepted, {self.refused} refused, "
            f"{len(self.failures)} failed"
        )
        assert not self.failures, "\n".join(self.failures[:20])


# ------------------------------------------------------------------------------------------- CLI numbers

ALWAYS_BAD = [
    "nan", "NaN", "-nan", "inf", "-inf", "+inf", "Infinity", "1e400", "-1e400", "1e309", "9" * 25, "9" * 5000,
    str(2**63), str(2**64), str(-(2**63) - 1), "", " ", "abc", "0x10", "1_000", "½", "١٢", "1e", "--", "1,5",
    "1.2.3", "12abc", "\x00", "🙂", "1e-400e",
]  # fmt: skip
MAYBE = ["0", "1", "2", "7", "-1", "-0", "0.5", "1.5", "1e2", "1e-400", "100", "65536", "1e12", "4294967296"]

# (command before the option, option or None for a positional, after the value, values that must not run).
# Options of commands that would start work (bench run, sync, hardware) only get values that must be refused.
RUNNABLE: list[tuple[list[str], str | None, list[str]]] = [
    (["recommend", "--task", "ner", "--format", "json"], "--limit", []),
    (["recommend", "--task", "ner", "--format", "json"], "--max-latency-ms", []),
    (["recommend", "--task", "ner", "--format", "json"], "--batch-size", []),
    (["recommend", "--task", "ner", "--format", "json"], "--seq-len", []),
    (["recommend", "--task", "ner", "--format", "json"], "--min-accuracy", []),
    (["recommend", "--task", "ner", "--format", "json"], "--max-params", []),
    (["recommend", "--task", "ner", "--format", "json"], "--max-memory", []),
    (["recommend", "--task", "ner", "--format", "json", "--weight"], "latency=", []),
    (["recommend", "--task", "ner", "--format", "json", "--weight"], "popularity=", []),
    (["models", "--format", "json"], "--limit", []),
    (["task", "ner", "--format", "json"], "--top", []),
    (["bench", "list", "--format", "json"], "--limit", []),
    (["bench", "show", "--format", "json"], None, []),
    (["bench", "compare", "1"], None, []),
    (["bench", "report", "--format", "json"], "--run", []),
]
REFUSED_ONLY: list[tuple[list[str], str]] = [
    (["bench", "run", "-m", "fake:ok"], option)
    for option in ("--budget-s", "--timeout-s", "--memory-limit-mb", "--threads", "--min-iterations",
                   "--new-tokens", "--seed", "--eval-batch-size", "--eval-max-length", "--stride",
                   "--max-new-tokens", "--limit")
] + [(["bench", "run", "--task", "ner"], "--top"), (["sync"], "--limit"), (["hardware"], "--threads"),
     (["bench", "compare", "--threshold", "0.1", "1"], None)]  # fmt: skip


def _random_bad(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return str(rng.randrange(2**63, 2**200))
    if kind == 1:
        return f"{rng.random():.3f}e{rng.randrange(309, 5000)}"
    if kind == 2:
        return rng.choice(["-", "+"]) + rng.choice(["nan", "inf", "infinity"])
    return rng.choice(ALWAYS_BAD)


def _args(prefix: list[str], option: str | None, value: str) -> list[str]:
    if option is None:  # a positional argument: after "--", so that "-1" is a value, not an option
        return [*prefix, "--", value]
    if option.endswith("="):
        return [*prefix, option + value]
    return [*prefix, option, value]


def _refuse_constant(name: str) -> None:
    pytest.fail(f"{name} in the JSON output")


def test_fuzz_numeric_options(run_cli, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    open_database(url).dispose()
    rng = random.Random(SEED)
    tally = Tally("CLI numbers")
    cases: list[tuple[list[str], bool]] = []
    for prefix, option, _ in RUNNABLE:
        for value in ALWAYS_BAD[::3] + [_random_bad(rng) for _ in range(3)]:
            cases.append((_args(prefix, option, value), True))
        for value in MAYBE:
            cases.append((_args(prefix, option, value), False))
    for option in ("--batch-sizes", "--seq-lens"):  # comma-separated lists, checked before any worker starts
        for value in ["0", "-1", "1,0", "nan", "1e400", str(2**63), "9" * 5000, "abc", "", "1.5", "8,-8"]:
            cases.append((["bench", "run", "-m", "fake:ok", option, value], True))
    for prefix, option in REFUSED_ONLY:  # type: ignore[assignment]
        out_of_range = [str(2**32), "-1"] if option == "--seed" else ["0", "-1"]
        for value in rng.sample(ALWAYS_BAD, 4) + [_random_bad(rng), *out_of_range]:
            cases.append((_args(prefix, option, value), True))
    before = db_digest(url)
    for args, must_refuse in cases:
        result = run_cli("--db", url, *args)
        after = db_digest(url)
        tally.check(" ".join(args)[:120], result.code, result.out, result.err, before, after)
        if must_refuse and result.code == 0:
            tally.failures.append(f"{' '.join(args)[:120]}: accepted")
        if result.code == 0 and "--format" in args:
            # strict JSON: NaN or Infinity in the output would be invalid JSON for every other tool
            json.loads(result.out, parse_constant=_refuse_constant)
        assert before == after or result.code == 0, args
        before = after
    tally.report()
    assert tally.tried >= 250 and tally.refused > tally.accepted


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["recommend", "--task", "ner", "--weight", "latency=nan"], "--weight latency must be a finite number"),
        (["recommend", "--task", "ner", "--weight", "latency=inf"], "--weight latency must be a finite number"),
        (["recommend", "--task", "ner", "--max-latency-ms", "nan"], "--max-latency-ms must be a finite number"),
        (["recommend", "--task", "ner", "--max-params", "1e400"], "--max-params 1e400 is too large"),
        (["recommend", "--task", "ner", "--max-params", "500MB"], "use --max-memory 500MB"),
        (["recommend", "--task", "ner", "--min-accuracy", "nan"], "--min-accuracy must be a finite number"),
        (["recommend", "--task", "ner", "--max-memory", "0.5"], "is less than one"),  # was: no limit at all
        (["bench", "run", "-m", "x", "--budget-s", "nan"], "--budget-s must be a finite number"),
        (["bench", "show", str(2**63)], f"RUN_ID {2**63} is too large"),
        (["bench", "compare", "1", str(2**64)], "RUN_B"),
    ],
)
def test_non_finite_and_oversized_numbers_are_refused_in_one_line(run_cli, mini_taxonomy: Path, args, message) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*args)
    assert result.code != 0
    assert result.err.startswith("Error: ") and message in result.err and result.err.count("\n") == 1, result.err


def test_numbers_from_python_are_checked_too() -> None:
    from catalog.recommend.constraints import Constraints
    from catalog.recommend.scoring import profile_weights

    for bad in ({"max_latency_ms": math.nan}, {"min_accuracy": math.nan}, {"max_params": 10**30},
                {"max_params": "500MB"}, {"max_memory_bytes": math.inf}):  # fmt: skip
        with pytest.raises(CatalogError):
            Constraints(task="ner", **bad)  # type: ignore[arg-type]
    with pytest.raises(CatalogError):
        profile_weights("balanced", {"latency": math.nan})


# --------------------------------------------------------------------------------------------- --db


def test_group_db_option_wins_over_catalog_db_url(run_cli, mini_taxonomy: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from_env, from_group, from_command = (tmp_path / name for name in ("env.db", "group.db", "command.db"))
    monkeypatch.setenv("CATALOG_DB_URL", f"sqlite:///{from_env}")
    assert run_cli("--db", f"sqlite:///{from_group}", "tasks").code == 0
    assert from_group.exists() and not from_env.exists()
    assert run_cli("--db", f"sqlite:///{from_group}", "models", "--db", f"sqlite:///{from_command}").code == 0
    assert from_command.exists() and not from_env.exists()  # the command's own --db is the most specific
    assert run_cli("tasks").code == 0
    assert from_env.exists()  # without --db, the environment decides


# ------------------------------------------------------------------------------------------ catalog.yaml

BAD_NUMBERS: list[Any] = [math.inf, -math.inf, math.nan, 10**30, 2**63, -1, 0, True, False, "12", None, 1.5, "", [],
                          {}, 2**31, 1e300]  # fmt: skip
NUMERIC_FIELDS = [
    ("models", "params"), ("models", "downloads"), ("models", "context_length"), ("families", "year"),
    ("families", "open_weights"), ("models", "gated"), ("reported", "value"), ("reported", "verified"),
]  # fmt: skip


def _mutate(data: dict[str, Any], rng: random.Random) -> tuple[str, dict[str, Any]]:
    data = copy.deepcopy(data)
    kind = rng.randrange(6)
    models, tasks, families = data["models"], data["tasks"], data["families"]
    if kind == 0:
        section, name = rng.choice(NUMERIC_FIELDS)
        value = rng.choice(BAD_NUMBERS)
        target = rng.choice(models[0]["reported"] if section == "reported" else data[section])
        target[name] = value
        if name == "params":
            target.setdefault("params_source", "fuzz")
        if name == "downloads":
            target.setdefault("downloads_as_of", "2024-09-20")
        return f"{section}.{name}={value!r}"[:80], data
    if kind == 1:  # a repeated entry in a list the database keys by it
        which = rng.randrange(5)
        if which == 0:
            model = rng.choice(models)
            model["tasks"] = [*model["tasks"], model["tasks"][0]]
            return f"duplicate task in {model['id']}", data
        if which == 1:
            task = rng.choice(tasks)
            task["architectures"] = [*task["architectures"], task["architectures"][0]]
            return f"duplicate architecture in {task['id']}", data
        if which == 2:
            task = tasks[0]
            task["aliases"] = [*task["aliases"], "ner"]
            return f"duplicate alias in {task['id']}", data
        if which == 3:
            family = families[0]
            family["model_types"] = [*family["model_types"], family["model_types"][0]]
            return "duplicate model type", data
        section = rng.choice(["models", "tasks", "families", "architectures"])
        data[section].append(copy.deepcopy(data[section][0]))
        return f"duplicate entry in {section}", data
    if kind == 2:  # strings longer than their columns
        length = rng.choice([65, 201, 256, 5000])
        section, name = rng.choice([("architectures", "id"), ("tasks", "name_en"), ("families", "organization"),
                                    ("models", "license"), ("models", "library"), ("models", "base_model")])  # fmt: skip
        value = "a" * length if name == "id" else "x" * length
        rng.choice(data[section])[name] = value
        return f"{section}.{name} of {length} characters", data
    if kind == 3:  # language codes, metric names and model ids at odd lengths
        model = rng.choice(models)
        choice = rng.randrange(3)
        if choice == 0:
            model["languages"] = [*model.get("languages", []), "x" * rng.choice([0, 33, 300])]
            return "long language code", data
        if choice == 1 and model.get("reported"):
            model["reported"][0]["metric"] = "m" * rng.choice([65, 1000])
            return "long metric", data
        model["id"] = "org/" + "m" * rng.choice([10, 252, 300])
        return f"model id of {len(model['id'])} characters", data
    if kind == 4:  # wrong shapes
        section = rng.choice(["models", "tasks", "families"])
        entry = rng.choice(data[section])
        key = rng.choice(list(entry))
        entry[key] = rng.choice([{"nested": [1, 2]}, [[]], 12, None, "text"])
        return f"{section}.{key} of another type", data
    data[rng.choice(["version", "models", "tasks"])] = rng.choice([2, None, "x", {"a": 1}])
    return "top-level field of another type", data


RAW_CASES: list[tuple[str, bytes]] = [
    ("not UTF-8", b"version: 1\nname: \xff\xfe\xfa\n"),
    ("empty", b""),
    ("a list", b"- 1\n- 2\n"),
    ("aliases (billion laughs)", b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                                 b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nversion: 1\n"),
    ("deep nesting", b"[" * 20000 + b"]" * 20000),
    ("invalid YAML", b"version: 1\ntasks: [\n"),
    ("a tab", b"version:\t1\n"),
    ("NUL bytes", b"version: 1\x00\x00\n"),
    ("python tag", b"!!python/object/apply:os.system ['true']\n"),
]  # fmt: skip


def test_fuzz_taxonomy_files(db_url: str, tmp_path: Path, run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(SEED)
    base = yaml.safe_load(MINI_TAXONOMY.read_text(encoding="utf-8"))
    path = tmp_path / "catalog.yaml"
    path.write_bytes(MINI_TAXONOMY.read_bytes())
    monkeypatch.setenv("CATALOG_TAXONOMY", str(path))
    assert run_cli("--db", db_url, "tasks").code == 0
    tally = Tally(f"catalog.yaml ({db_url.split(':')[0]})")
    cases: list[tuple[str, Callable[[], None]]] = []
    for _ in range(70):
        label, data = _mutate(base, rng)
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        cases.append((label, lambda text=text: path.write_text(text, encoding="utf-8")))  # type: ignore[misc]
    for label, raw in RAW_CASES:
        cases.append((label, lambda raw=raw: path.write_bytes(raw)))  # type: ignore[misc]
    duplicates = 0
    for label, write in cases:
        write()
        before = db_digest(db_url)
        result = run_cli("--db", db_url, "tasks", "--format", "json")
        after = db_digest(db_url)
        tally.check(label, result.code, result.out, result.err, before, after)
        if result.code != 0 and str(path) not in result.err:
            tally.failures.append(f"{label}: the error does not name the file: {result.err[:200]!r}")
        if label.startswith("duplicate"):
            duplicates += 1
            if result.code == 0 or "duplicate" not in result.err:
                tally.failures.append(f"{label}: not refused as a duplicate: {result.err[:200]!r}")
    # Special files: a FIFO (reading would wait for a writer forever), a device, a directory.
    specials: list[tuple[str, Path]] = [("directory", tmp_path)]
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    specials.append(("FIFO", fifo))
    if Path("/dev/zero").exists():
        specials.append(("/dev/zero", Path("/dev/zero")))
    for label, special in specials:
        monkeypatch.setenv("CATALOG_TAXONOMY", str(special))
        before = db_digest(db_url)
        result = run_cli("--db", db_url, "tasks")
        tally.check(label, result.code, result.out, result.err, before, db_digest(db_url))
        if result.code == 0:
            tally.failures.append(f"{label}: accepted as a taxonomy")
    tally.report()
    assert duplicates >= 6 and tally.refused >= 50


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda d: d["models"][0].update(params=True), "params: Input should be a valid integer"),
        (lambda d: d["models"][0].update(params=10**30), "params: Input should be less than or equal to"),
        (lambda d: d["models"][0]["reported"][0].update(value=math.inf), "value: Input should be a finite number"),
        (lambda d: d["models"][0].update(tasks=["token-classification"] * 2), "duplicate task 'token-classification'"),
        (lambda d: d["tasks"][0].update(architectures=["encoder-only"] * 2), "duplicate architecture"),
    ],
)
def test_taxonomy_values_the_database_cannot_hold_are_taxonomy_errors(
    mutation: Callable[[dict[str, Any]], None], message: str, tmp_path: Path
) -> None:
    from catalog.errors import TaxonomyError
    from catalog.taxonomy import parse_taxonomy

    data = yaml.safe_load(MINI_TAXONOMY.read_text(encoding="utf-8"))
    mutation(data)
    with pytest.raises(TaxonomyError, match="models|tasks") as caught:
        parse_taxonomy(yaml.safe_dump(data), "my.yaml")
    assert message in str(caught.value) and str(caught.value).startswith("my.yaml: at ")


# ------------------------------------------------------------------------------------------- eval files


def _eval_cases(rng: random.Random, folder: Path) -> list[tuple[str, str, Path, Path | None]]:
    """(label, task, file, reference file) for text classification, NER, QA, perplexity and translation."""
    cases: list[tuple[str, str, Path, Path | None]] = []

    def add(label: str, task: str, name: str, content: bytes, reference: bytes | None = None) -> None:
        path = folder / f"{len(cases)}-{name}"
        path.write_bytes(content)
        ref = None
        if reference is not None:
            ref = folder / f"{len(cases)}-ref.txt"
            ref.write_bytes(reference)
        cases.append((label, task, path, ref))

    good_csv = b"text,label\ngood film,positive\nbad film,negative\n"
    long_field = b"x" * (129 * 1024)
    for suffix in ("csv", "tsv", "jsonl"):
        sep = b"\t" if suffix == "tsv" else b","
        add("non-UTF-8", "text-classification", f"a.{suffix}", b"text" + sep + b"label\n\xff\xfe" + sep + b"1\n")
        add("128 KiB field", "text-classification", f"b.{suffix}",
            b"text" + sep + b"label\n" + long_field + sep + b"positive\nok" + sep + b"negative\n")  # fmt: skip
        add("NUL byte", "text-classification", f"c.{suffix}", b"text" + sep + b"label\na\x00b" + sep + b"1\n")
        add("empty", "text-classification", f"d.{suffix}", b"")
    add("BOM", "text-classification", "bom.csv", b"\xef\xbb\xbf" + good_csv)
    add("jsonl long line", "text-classification", "e.jsonl",
        json.dumps({"text": "y" * (200 * 1024), "label": "a"}).encode() + b"\n")  # fmt: skip
    add("deep JSON", "text-classification", "f.jsonl", b"[" * 100_000 + b"]" * 100_000 + b"\n")
    add("JSON not an object", "text-classification", "g.jsonl", b"[1, 2]\n")
    add("ragged rows", "text-classification", "h.csv", b"text,label\na,b,c\n")
    add("unbalanced quote", "text-classification", "i.csv", b'text,label\n"abc,1\n')
    add("no label column", "text-classification", "j.csv", b"text,other\na,1\n")
    add("SQuAD shapes", "question-answering", "k.json", b'{"data": [{"paragraphs": [{"qas": [{}]}]}]}')
    add("SQuAD list", "question-answering", "l.json", b'{"data": [1, 2]}')
    add("SQuAD not UTF-8", "question-answering", "m.json", b'{"data": "\xff"}')
    add("CoNLL no tags", "token-classification", "n.conll", b"a b c\nd e f\n")
    add("CoNLL not UTF-8", "token-classification", "o.conll", b"EU\tB-ORG\n\xff\tO\n")
    add("text not UTF-8", "text-generation", "p.txt", b"hello\n\xc3\x28\n")
    add("translation lengths", "translation", "q.txt", b"a\nb\n", b"a\n")
    add("translation not UTF-8", "translation", "r.txt", b"a\n", b"\xff\n")
    for index in range(40):  # random bytes and random mixtures of the good file and junk
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        if index % 2:
            junk = good_csv[: rng.randrange(len(good_csv))] + junk
        task, name = rng.choice([("text-classification", "z.csv"), ("text-classification", "z.jsonl"),
                                 ("token-classification", "z.conll"), ("question-answering", "z.json"),
                                 ("text-generation", "z.txt")])  # fmt: skip
        add(f"random bytes {index}", task, name, junk)
    return cases


def test_fuzz_eval_files(tmp_path: Path) -> None:
    from bench import evalsets

    rng = random.Random(SEED)
    tally = Tally("eval files")
    for label, task, path, reference in _eval_cases(rng, tmp_path):
        try:
            evalset = evalsets.from_file(path, task, reference=reference)
        except CatalogError as exc:
            message = str(exc)
            named = path.name in message or (reference is not None and reference.name in message)
            ok = "\n" not in message and named
            tally.check(f"{label} ({path.name})", 1, "", f"Error: {message}\n", None, None)
            if not ok:
                tally.failures.append(f"{label}: the message does not name the file: {message[:200]!r}")
        except Exception as exc:  # anything else would abort a whole bench run
            tally.check(f"{label} ({path.name})", 1, "", f"unexpected {type(exc).__name__}: {exc}"[:300], None, None)
        else:
            assert len(evalset.examples) > 0
            tally.check(f"{label} ({path.name})", 0, "", "", None, None)
    tally.report()
    assert tally.refused >= 30


def test_a_refused_eval_file_keeps_latency_and_exits_1(run_cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Before: a non-UTF-8 eval file raised UnicodeDecodeError out of the run (no latency stored), and a refused
    file exited 0."""
    import bench.runner as runner
    from bench.store import list_runs
    from tests.bench.helpers import FAKE_BACKEND

    real_worker, real_run = runner.WorkerProcess, runner.run_benchmark

    def fake_worker(*, backend: str = "transformers", threads: int | None = None) -> Any:
        return real_worker(backend=FAKE_BACKEND, threads=threads)

    def fake_run(spec: Any, **kwargs: Any) -> Any:
        return real_run(spec, **(kwargs | {"backend": FAKE_BACKEND}))

    monkeypatch.setattr(runner, "WorkerProcess", fake_worker)
    monkeypatch.setattr(runner, "run_benchmark", fake_run)
    bad = tmp_path / "reviews.csv"
    bad.write_bytes(b"text,label\n\xff\xfe not utf-8,positive\n")
    url = f"sqlite:///{tmp_path / 'eval.db'}"
    result = run_cli("bench", "run", "--db", url, "-m", "fake:ok", "--task", "text-classification", "--seq-lens", "8",
                     "--budget-s", "0.2", "--eval-file", str(bad), "--allow-random-eval", "--format", "json")  # fmt: skip
    assert result.code == 1
    assert result.err.count("\n") == 1 and "not UTF-8" in result.err and "reviews.csv" in result.err, result.err
    rows = json.loads(result.out)
    by_kind = {bool(r.get("eval_set")): r for r in rows}
    assert len(rows) == 2 and by_kind[False]["status"] == "ok" and by_kind[False]["latency_ms"]["p50"] > 0
    assert by_kind[True]["status"] == "failed" and "not UTF-8" in by_kind[True]["error"]
    db = open_database(url)
    (run,) = list_runs(db)
    assert run.status == "finished" and run.result_count == 2  # the latency and the reason are both stored
    db.dispose()


# --------------------------------------------------------------------------------------- streaming JSON


def test_recommend_json_is_written_item_by_item(run_cli, mini_taxonomy: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`recommend --limit 0 --format json` over many models: no write holds more than one model's text (before,
    the whole array was built in memory and written at once), and the text is the JSON array."""
    import io
    import sys

    from catalog.hub.sync import import_snapshot

    snapshot = tmp_path / "many.jsonl"
    with snapshot.open("w", encoding="utf-8") as handle:
        for i in range(400):
            handle.write(json.dumps({"id": f"org/ner-{i}", "pipeline_tag": "token-classification", "downloads": i,
                                     "tags": ["transformers", "bert", "license:mit", "en"]}) + "\n")  # fmt: skip
    url = f"sqlite:///{tmp_path / 'many.db'}"
    db = open_database(url)
    import_snapshot(db, snapshot)
    db.dispose()

    class Recording(io.StringIO):
        largest = 0

        def write(self, text: str) -> int:
            Recording.largest = max(Recording.largest, len(text))
            return super().write(text)

    out = Recording()
    monkeypatch.setattr(sys, "stdout", out)
    run_cli("--db", url, "recommend", "--task", "ner", "--limit", "0", "--format", "json")
    items = json.loads(out.getvalue())
    assert len(items) >= 400
    assert Recording.largest < len(out.getvalue()) / 100


def test_a_key_given_twice_in_catalog_yaml_is_refused(tmp_path: Path) -> None:
    """PyYAML keeps the last of two equal keys without a word: a reviewed file must not lose a value silently."""
    from catalog.errors import TaxonomyError
    from catalog.taxonomy import parse_taxonomy

    text = MINI_TAXONOMY.read_text(encoding="utf-8").replace(
        "    params: 108310272\n", "    params: 108310272\n    params: 5\n", 1
    )
    with pytest.raises(TaxonomyError, match=r"my.yaml: line \d+, column 5: invalid YAML \(duplicate key 'params'"):
        parse_taxonomy(text, "my.yaml")
