"""The real catalog.yaml: complete (every task, alias and family the product promises), consistent, and its facts
agree with the Hub snapshot in ../shared."""

from __future__ import annotations

import ast
import csv
from collections import Counter

import pytest

from catalog import settings
from catalog.taxonomy import Taxonomy, load_taxonomy

from .conftest import require_shared

REQUIRED_TASKS = {
    "text-classification": {"sentiment", "topic", "spam"},
    "token-classification": {"ner"},
    "question-answering": {"qa"},
    "text-generation": set(),
    "text2text-generation": {"generative-qa"},
    "summarization": set(),
    "translation": {"mt"},
    "feature-extraction": {"embeddings"},
    "sentence-similarity": set(),
    "fill-mask": {"mlm"},
    "zero-shot-classification": set(),
    "image-classification": set(),
    "object-detection": {"detection"},
    "image-segmentation": {"segmentation"},
    "audio-classification": set(),
    "automatic-speech-recognition": {"asr"},
    "visual-question-answering": {"vqa"},
    "image-to-text": {"captioning"},
}
REQUIRED_FAMILIES = [
    "BERT", "RoBERTa", "ALBERT", "DistilBERT", "ELECTRA", "GPT-2", "BLOOM", "Llama", "Mistral", "Mixtral", "Gemma",
    "T5", "BART", "Pegasus", "MarianMT", "M2M100", "Sentence-Transformers", "ViT", "ResNet", "Swin Transformer",
    "YOLOS", "DETR", "SegFormer", "Mask2Former", "Wav2Vec2", "HuBERT", "Whisper", "ViLT", "BLIP", "GIT",
    "Claude 3", "Gemini",
]  # fmt: skip
API_MODELS = {
    "anthropic/claude-3-opus",
    "anthropic/claude-3-sonnet",
    "anthropic/claude-3-haiku",
    "google/gemini-pro",
    "google/gemini-ultra",
}


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(settings.REPO_ROOT / "catalog.yaml")


def test_every_required_task_and_alias(taxonomy: Taxonomy) -> None:
    tasks = {t.id: t for t in taxonomy.tasks}
    for task_id, aliases in REQUIRED_TASKS.items():
        assert task_id in tasks, f"missing task {task_id}"
        assert aliases <= set(tasks[task_id].aliases), (
            f"{task_id} lacks aliases {aliases - set(tasks[task_id].aliases)}"
        )
        task = tasks[task_id]
        assert task.name_en and task.name_zh and task.description and task.metrics and task.architectures
        assert any("\u4e00" <= ch <= "\u9fff" for ch in task.name_zh), f"{task_id} name_zh is not Chinese"
    assert taxonomy.alias_map()["ner"] == "token-classification"


def test_core_architectures_describe_attention_and_objective(taxonomy: Taxonomy) -> None:
    archs = {a.id: a for a in taxonomy.architectures}
    assert {"encoder-only", "decoder-only", "encoder-decoder"} <= set(archs)
    assert "masked" in archs["encoder-only"].objective.lower()
    assert "causal" in archs["decoder-only"].objective.lower() or "next" in archs["decoder-only"].objective.lower()
    assert {a.modality for a in archs.values()} >= {"text", "vision", "audio", "multimodal"}
    for arch in archs.values():
        assert arch.attention and arch.objective and arch.suits


def test_every_required_family(taxonomy: Taxonomy) -> None:
    names = {f.name.lower().replace(" ", "").replace("-", ""): f for f in taxonomy.families}
    for required in REQUIRED_FAMILIES:
        key = required.lower().replace(" ", "").replace("-", "")
        assert key in names, f"missing family {required}"
        family = names[key]
        assert family.organization and family.objective and 2010 <= family.year <= 2026
    for name in ("claude3", "gemini"):
        assert names[name].api_only and not names[name].open_weights
    open_families = [f for f in taxonomy.families if not f.api_only]
    assert all(f.open_weights for f in open_families)
    # Branches as the product describes them.
    arch_of = {key: f.architecture for key, f in names.items()}
    for key in ("bert", "roberta", "albert", "distilbert", "electra"):
        assert arch_of[key] == "encoder-only"
    for key in ("gpt2", "bloom", "llama", "mistral", "mixtral", "gemma"):
        assert arch_of[key] == "decoder-only"
    for key in ("t5", "bart", "pegasus", "marianmt", "m2m100", "whisper"):
        assert arch_of[key] == "encoder-decoder"


def test_at_least_two_models_per_task(taxonomy: Taxonomy) -> None:
    per_task = Counter(task for m in taxonomy.models for task in m.tasks)
    for task_id in REQUIRED_TASKS:
        assert per_task[task_id] >= 2, f"{task_id} has {per_task[task_id]} curated models"
    required = {
        "dslim/bert-base-NER",
        "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
        "openai/whisper-tiny",
        "sentence-transformers/all-MiniLM-L6-v2",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
    }
    assert required <= {m.id for m in taxonomy.models}


def test_api_models_are_marked(taxonomy: Taxonomy) -> None:
    models = {m.id: m for m in taxonomy.models}
    for model_id in API_MODELS:
        assert model_id in models, f"missing API model {model_id}"
        assert models[model_id].api_only
        assert models[model_id].tasks[0] == "text-generation"
    assert all(m.api_only == taxonomy.family(m.family).api_only for m in taxonomy.models)


def _snapshot() -> dict[str, dict[str, object]]:
    path = require_shared("hub/hf_models_2024-09-20.csv")
    rows = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            tags = ast.literal_eval(row["tags"]) if row["tags"] else []
            rows[row["modelId"]] = {
                "tags": tags,
                "pipeline_tag": row["pipeline_tag"],
                "downloads": int(row["downloads"]),
            }
    return rows


def test_facts_agree_with_the_hub_snapshot(taxonomy: Taxonomy) -> None:
    snapshot = _snapshot()
    checked = 0
    for model in taxonomy.models:
        row = snapshot.get(model.id)
        if row is None:
            continue
        checked += 1
        tags = row["tags"]
        assert isinstance(tags, list)
        if row["pipeline_tag"]:  # some checkpoints (e.g. ELECTRA discriminators) have none on the Hub
            assert model.tasks[0] == row["pipeline_tag"], f"{model.id}: pipeline tag"
        licenses = [t.split(":", 1)[1] for t in tags if t.startswith("license:")]
        assert model.license == (licenses[0] if licenses else "unknown"), f"{model.id}: license"
        for language in model.languages:
            assert language in tags, f"{model.id}: language {language} not tagged on the Hub"
        if model.downloads is not None:
            assert model.downloads == row["downloads"], f"{model.id}: downloads"
    assert checked >= 30


def test_facts_agree_with_model_facts(taxonomy: Taxonomy) -> None:
    path = require_shared("hub/model_facts.csv")
    models = {m.id: m for m in taxonomy.models}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            model = models.get(row["model_id"])
            assert model is not None, f"{row['model_id']} from model_facts.csv is not curated"
            if row["pipeline_tag"]:
                assert model.tasks[0] == row["pipeline_tag"]
            assert model.license == (row["license"] or "unknown")
