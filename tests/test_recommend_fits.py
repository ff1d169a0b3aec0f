"""recommend --fits uses the fit advice: a model too big at the dtype asked for, that fits at a smaller dtype or
quantisation its architecture can run in, is kept and says which ('fits only as bfloat16/int8/Q4')."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog.costmodel import catalog_figures as cf
from catalog.recommend import NoMatchError, engine, recommend

BERT = ("dslim/bert-base-NER", 108_310_272, "encoder-only", "token-classification")
GPT2 = ("openai-community/gpt2", 124_439_808, "decoder-only", "text-generation")
MiB = 2**20


def _limit_where(params: int, architecture: str, task: str, wanted: str, dtype: str = "float32") -> int:
    """A memory limit (MiB steps) at which the model does not fit at dtype and `wanted` is the first that fits."""
    for mib in range(16, 4096, 2):
        if cf.fitting_option(mib * MiB, params, architecture, task, 1, 128, dtype) == wanted and not cf.fits_in(
            mib * MiB, params, architecture, task, 1, 128, dtype
        ):
            return mib * MiB
    raise AssertionError(f"no memory limit makes {wanted} the fitting option")


def test_smaller_options_follow_what_each_architecture_runs() -> None:
    assert cf.smaller_options("float32", "encoder-only") == ("bfloat16", "int8")
    assert cf.smaller_options("float32", "decoder-only") == ("bfloat16", "int8", "int4")
    assert cf.smaller_options("bfloat16", "convolutional") == ()
    assert cf.smaller_options("float16", "vision-language") == ("int8", "int4")
    assert cf.smaller_options("int4", "decoder-only") == ()
    assert cf.fit_label("int4") == "Q4" and cf.fit_label("int8") == "int8"


@pytest.mark.parametrize("wanted", ["bfloat16", "int8"])
def test_fits_keeps_a_model_that_fits_only_at_a_smaller_dtype(
    mini_taxonomy: Path, monkeypatch: pytest.MonkeyPatch, wanted: str
) -> None:
    model_id, params, architecture, task = BERT
    limit = _limit_where(params, architecture, task, wanted)
    monkeypatch.setattr(engine, "_machine_memory_bytes", lambda: limit)
    result = recommend("ner", fits=True, limit=0)
    by_id = {item.model.id: item for item in result}
    assert model_id in by_id, "dropped although it fits at a smaller dtype"
    bert = by_id[model_id]
    assert bert.fits_as is not None and bert.fits_as["dtype"] == wanted and bert.fits_as["label"] == wanted
    assert bert.fits_as["memory_bytes"] <= limit < bert.memory_bytes.value  # too big as asked, fits as advised
    assert bert.fits_as["basis"].startswith("estimated: cost model: " + wanted)
    assert f"fits only as {wanted}" in bert.why and any(f"fits only as {wanted}" in f for f in bert.flags)
    small = by_id["example/small-ner"]  # 14M parameters fit as float32
    assert small.fits_as is None and not any("fits only" in f for f in small.flags)
    assert bert.to_dict()["fits_as"]["dtype"] == wanted


def test_fits_names_q4_for_a_decoder_and_drops_what_fits_in_nothing(
    mini_taxonomy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_id, params, architecture, task = GPT2
    limit = _limit_where(params, architecture, task, "int4")
    monkeypatch.setattr(engine, "_machine_memory_bytes", lambda: limit)
    item = next(i for i in recommend("text-generation", fits=True, limit=0) if i.model.id == model_id)
    assert item.fits_as["label"] == "Q4" and "fits only as Q4" in item.why

    # an encoder-only model is not offered Q4: at the same kind of limit, it is excluded and counted
    bert_id, bert_params, bert_arch, bert_task = BERT
    assert cf.fitting_option(limit, bert_params, bert_arch, bert_task, 1, 128, "float32") is None
    monkeypatch.setattr(engine, "_machine_memory_bytes", lambda: limit)
    try:
        result = recommend("ner", fits=True, limit=0)
    except NoMatchError as exc:
        assert "--fits" in str(exc)
    else:
        assert bert_id not in {i.model.id for i in result}
        assert any(label.startswith("--fits") for label in result.excluded)


def test_without_fits_a_max_memory_limit_stays_strict(mini_taxonomy: Path) -> None:
    model_id, params, architecture, task = BERT
    limit = _limit_where(params, architecture, task, "bfloat16")
    result = recommend("ner", max_memory=limit, limit=0)
    assert model_id not in {i.model.id for i in result}
    assert all(i.fits_as is None for i in result)


def test_fits_as_in_json_and_table(run_cli, mini_taxonomy: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    model_id, params, architecture, task = BERT
    limit = _limit_where(params, architecture, task, "int8")
    monkeypatch.setattr(engine, "_machine_memory_bytes", lambda: limit)
    done = run_cli("recommend", "--task", "ner", "--fits", "--format", "json")
    assert done.code == 0, done.err
    rows = {row["id"]: row for row in json.loads(done.out)}
    assert rows[model_id]["fits_as"]["dtype"] == "int8" and rows["example/small-ner"]["fits_as"] is None
    table = run_cli("recommend", "--task", "ner", "--fits")
    assert table.code == 0, table.err
    text = " ".join(table.out.split())
    assert "fits only as int8" in text and "--fits: 1 of these fit only as int8" in text


def test_explain_says_which_dtype_fits(run_cli, mini_taxonomy: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    model_id, params, architecture, task = BERT
    limit = _limit_where(params, architecture, task, "bfloat16")
    monkeypatch.setattr(engine, "_machine_memory_bytes", lambda: limit)
    done = run_cli("recommend", "--task", "ner", "--fits", "--explain", model_id)
    assert done.code == 0, done.err
    text = " ".join(done.out.split())
    assert "fits only as bfloat16" in text and "estimated: cost model: bfloat16 weights" in text
    as_json = run_cli("recommend", "--task", "ner", "--fits", "--explain", model_id, "--format", "json")
    assert json.loads(as_json.out)["figures"]["fits_as"]["dtype"] == "bfloat16"
