"""catalog.yaml validation: a bad file names the file, the path inside it and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from catalog.errors import TaxonomyError
from catalog.taxonomy import load_taxonomy, parse_taxonomy

from .conftest import MINI_TAXONOMY


def _mini() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(MINI_TAXONOMY.read_text(encoding="utf-8"))


def _error(data: object) -> str:
    with pytest.raises(TaxonomyError) as info:
        parse_taxonomy(yaml.safe_dump(data, allow_unicode=True), "my.yaml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("my.yaml")
    return message


def test_mini_taxonomy_is_valid() -> None:
    taxonomy = load_taxonomy(MINI_TAXONOMY)
    assert taxonomy.alias_map()["ner"] == "token-classification"


def test_yaml_syntax_error_gives_line_and_column() -> None:
    with pytest.raises(TaxonomyError, match=r"my.yaml: line 2, column 9: invalid YAML \(mapping values"):
        parse_taxonomy("version: 1\ntasks: a: b\nfamilies: []\n", "my.yaml")


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(TaxonomyError, match="expected a mapping with keys version, architectures"):
        parse_taxonomy("- just\n- a list\n", "my.yaml")


def test_missing_field_names_the_item() -> None:
    data = _mini()
    del data["tasks"][0]["name_zh"]
    assert _error(data) == (
        "my.yaml: at tasks[0] (token-classification).name_zh: Field required. Fix the file and retry."
    )


def test_unknown_field_is_rejected() -> None:
    data = _mini()
    data["families"][1]["colour"] = "blue"
    assert "families[1] (gpt2).colour: Extra inputs are not permitted" in _error(data)


def test_wrong_type_says_what_was_expected() -> None:
    data = _mini()
    data["families"][0]["year"] = "last year"
    assert "families[0] (bert).year: Input should be a valid integer" in _error(data)
    data = _mini()
    data["tasks"][0]["modality"] = "smell"
    assert (
        "tasks[0] (token-classification).modality: Input should be 'text', 'vision', 'audio' or 'multimodal'"
        in _error(data)
    )


def test_dangling_references_are_listed() -> None:
    data = _mini()
    data["models"][0]["family"] = "bertt"
    data["tasks"][1]["architectures"] = ["decoder-onl"]
    message = _error(data)
    assert "models[0] (dslim/bert-base-NER).family: unknown family 'bertt'" in message
    assert "tasks[1] (text-generation).architectures: unknown architecture 'decoder-onl'" in message


def test_duplicate_alias_and_alias_shadowing_a_task() -> None:
    data = _mini()
    data["tasks"][1]["aliases"] = ["ner"]
    assert "'ner' is already an alias of token-classification" in _error(data)
    data = _mini()
    data["tasks"][1]["aliases"] = ["token-classification"]
    assert "'token-classification' is already a task id" in _error(data)


def test_model_type_belongs_to_one_family() -> None:
    data = _mini()
    data["families"][1]["model_types"] = ["gpt2", "bert"]
    assert "'bert' already belongs to bert" in _error(data)


def test_params_need_a_source() -> None:
    data = _mini()
    del data["models"][0]["params_source"]
    assert "params is given without params_source" in _error(data)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="Cannot read taxonomy file .*missing.yaml"):
        load_taxonomy(tmp_path / "missing.yaml")
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("version: 1 # caf\xe9\n".encode("latin-1"))
    with pytest.raises(TaxonomyError, match="not UTF-8"):
        load_taxonomy(latin1)


def test_yaml_is_safe_loaded() -> None:
    with pytest.raises(TaxonomyError, match="invalid YAML"):
        parse_taxonomy("version: !!python/object/apply:os.system ['echo pwned']\n", "evil.yaml")


def test_a_by_language_benchmark_takes_its_language_from_the_rows() -> None:
    data = _mini()
    bench = {"id": "fleurs", "name": "FLEURS", "datasets": ["google/fleurs"], "metric": "wer", "by_language": True}
    data["tasks"][0]["metrics"] = ["wer"]
    data["tasks"][0]["benchmarks"] = [bench]
    parse_taxonomy(yaml.safe_dump(data), "my.yaml")  # valid
    data["tasks"][0]["benchmarks"] = [bench | {"config": "fr_fr"}]
    assert "benchmark 'fleurs' is by_language: its datasets' config is the language" in _error(data)
    data["tasks"][0]["benchmarks"] = [bench | {"datasets": ["google/fleurs:fr_fr"]}]
    assert "benchmark 'fleurs' is by_language" in _error(data)
