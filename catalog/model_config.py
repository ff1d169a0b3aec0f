"""What a user names as a model on the command line -> its config, one way for `catalog bench run` (bench.resolve,
which goes on to find the weights) and `catalog estimate` (catalog.costmodel.source, which never needs them).

`random:TYPE,key=value` specs, a config.json read as a JSON object, a config in the Hugging Face cache, the
`CATALOG_ID=PATH` alias, and the task a config was built for. Light: json and pathlib only (huggingface_hub on
use), so the estimate path imports neither torch nor the benchmark harness.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from catalog.errors import ModelResolutionError

DECODER_TYPES = {
    "gpt2", "gpt_neo", "gpt_neox", "gptj", "llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2",
    "phi", "phi3", "opt", "bloom", "falcon", "smollm3", "olmo", "olmo2", "starcoder2", "codegen", "granite",
}  # fmt: skip
# Speech encoders name their clip classifiers *ForSequenceClassification, like text classifiers do.
AUDIO_TYPES = {
    "wav2vec2", "wav2vec2-conformer", "wav2vec2-bert", "hubert", "wavlm", "data2vec-audio", "unispeech",
    "unispeech-sat", "sew", "sew-d", "whisper", "audio-spectrogram-transformer",
}  # fmt: skip
ENCODER_DECODER_TYPES = {"t5", "mt5", "bart", "mbart", "marian", "pegasus", "m2m_100", "nllb", "longt5", "led"}
VISION_TYPES = {"vit", "deit", "convnext", "resnet", "swin", "beit"}
ARCHITECTURE_SUFFIX_TASKS = (
    ("ForCausalLM", "text-generation"),
    ("LMHeadModel", "text-generation"),
    ("ForConditionalGeneration", "text2text-generation"),
    ("ForSeq2SeqLM", "text2text-generation"),
    ("ForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "token-classification"),
    ("ForQuestionAnswering", "question-answering"),
    ("ForMaskedLM", "fill-mask"),
    ("ForImageClassification", "image-classification"),
    ("ForSpeechSeq2Seq", "automatic-speech-recognition"),
    ("ForCTC", "automatic-speech-recognition"),
    ("ForAudioClassification", "audio-classification"),
)


def infer_task(config: dict[str, Any]) -> str:
    """The task a checkpoint was built for, from its config; feature-extraction when nothing says otherwise."""
    model_type = str(config.get("model_type", ""))
    if model_type == "whisper" and "WhisperForAudioClassification" not in (config.get("architectures") or []):
        return "automatic-speech-recognition"
    for architecture in config.get("architectures") or []:
        for suffix, task in ARCHITECTURE_SUFFIX_TASKS:
            if str(architecture).endswith(suffix):
                if task == "text-classification" and model_type in AUDIO_TYPES:
                    return "audio-classification"
                if task == "text2text-generation" and not config.get(
                    "is_encoder_decoder", model_type in ENCODER_DECODER_TYPES
                ):
                    continue
                return task
    if model_type in DECODER_TYPES:
        return "text-generation"
    if model_type in ENCODER_DECODER_TYPES or config.get("is_encoder_decoder"):
        return "text2text-generation"
    if model_type in VISION_TYPES:
        return "image-classification"
    return "feature-extraction"


def parse_random_spec(text: str) -> dict[str, Any]:
    """'random:bert,hidden_size=128,num_hidden_layers=2' -> {'model_type': 'bert', 'hidden_size': 128, ...}."""
    body = text.split(":", 1)[1]
    parts = [p.strip() for p in body.split(",") if p.strip()]
    if not parts or "=" in parts[0]:
        raise ModelResolutionError(
            f"{text!r}: a random-weight model is written random:MODEL_TYPE[,key=value...], "
            "e.g. random:bert,hidden_size=256,num_hidden_layers=4."
        )
    config: dict[str, Any] = {"model_type": parts[0]}
    for part in parts[1:]:
        key, separator, raw = part.partition("=")
        if not separator:
            raise ModelResolutionError(f"{text!r}: expected key=value, got {part!r}.")
        try:
            config[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            config[key.strip()] = raw
    return config


def read_config(path: Path) -> dict[str, Any]:
    """A config.json as a dict; one line naming the file when it cannot be read or is not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelResolutionError(f"Cannot read the model config {path}: {exc}.") from exc
    if not isinstance(data, dict):
        raise ModelResolutionError(f"{path} is not a model config (expected a JSON object).")
    return data


def split_alias(name: str) -> tuple[str, str] | None:
    """`CATALOG_ID=PATH` (PATH existing) -> (CATALOG_ID, PATH): a local copy whose figures count for the catalog id."""
    alias, separator, target = name.partition("=")
    if separator and alias and target and not name.startswith("random:") and Path(target).expanduser().exists():
        return alias.strip(), target
    return None


def looks_like_a_path(name: str) -> bool:
    """A name that can only be a file or directory (never a Hub id): './x', '/x', '~/x', 'a/b/c'."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1


def cached_hub_config(repo_id: str) -> Path | None:
    """config.json of a Hub id from the Hugging Face cache, never downloaded; None when not cached."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        cached = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # an id huggingface_hub refuses (bad characters ...) is simply not cached
        return None
    return Path(cached) if isinstance(cached, str) else None
