"""Turn what the user named (local directory, config.json, GGUF file, Hub id, or `random:TYPE,key=value`) into a
ModelJob a worker can load. Runs in the parent and never imports torch or transformers.

Hub ids go through huggingface_hub's cache: downloaded when online, and with HF_HUB_OFFLINE=1 and no cached copy
the message says so. Pickle checkpoints (*.bin, *.pt, *.ckpt) are refused unless allow_pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.spec import ModelJob
from catalog.errors import CatalogError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
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


class ModelResolutionError(CatalogError):
    """A model cannot be found, downloaded or accepted (pickle, offline without a cached copy ...)."""


class PickleRefusedError(ModelResolutionError):
    pass


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
    if model_type in ("vit", "deit", "convnext", "resnet", "swin", "beit"):
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
        key, _, raw = part.partition("=")
        if not _:
            raise ModelResolutionError(f"{text!r}: expected key=value, got {part!r}.")
        try:
            config[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            config[key.strip()] = raw
    return config


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelResolutionError(f"Cannot read the model config {path}: {exc}.") from exc
    if not isinstance(data, dict):
        raise ModelResolutionError(f"{path} is not a model config (expected a JSON object).")
    return data


def _check_weights(directory: Path, allow_pickle: bool) -> None:
    files = [p.name for p in directory.iterdir() if p.is_file()]
    if any(name.endswith((".safetensors", ".gguf")) for name in files):
        return
    pickled = [name for name in files if name.endswith(PICKLE_SUFFIXES)]
    if pickled and not allow_pickle:
        raise PickleRefusedError(
            f"{directory} has only pickle checkpoints ({', '.join(sorted(pickled)[:3])}), which can run arbitrary "
            "code when loaded. Convert them to safetensors, or pass --allow-pickle if you trust the source."
        )
    if not pickled:
        raise ModelResolutionError(
            f"{directory} has a config but no weights (*.safetensors). Use --no-weights to time it with random "
            "weights from its config."
        )


def _hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _hub_config(repo_id: str) -> Path:
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "config.json")
    if isinstance(cached, str):
        return Path(cached)
    if _hub_offline():
        raise ModelResolutionError(
            f"{repo_id} has no cached config.json and HF_HUB_OFFLINE=1: download it on a connected machine "
            f"(`hf download {repo_id} config.json`), or pass a local directory or config.json."
        )
    try:
        return Path(hf_hub_download(repo_id, "config.json"))
    except Exception as exc:  # huggingface_hub raises many kinds; all mean "not reachable / not there"
        raise ModelResolutionError(
            f"Cannot fetch config.json of {repo_id} from the Hub ({type(exc).__name__}). "
            "Check the id and the network, or pass a local directory."
        ) from exc


def _hub_snapshot(repo_id: str, allow_pickle: bool) -> Path:
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.txt", "*.model", "tokenizer*"]
    if allow_pickle:
        patterns += ["*.bin"]
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=_hub_offline()))
    except Exception as exc:
        if _hub_offline():
            raise ModelResolutionError(
                f"{repo_id} is not in the Hugging Face cache and HF_HUB_OFFLINE=1: download it on a connected "
                f"machine (`hf download {repo_id}`), pass a local directory, or time it from its config with "
                "--no-weights."
            ) from exc
        raise ModelResolutionError(
            f"Cannot download {repo_id} from the Hub ({type(exc).__name__}). Check the id and the network, pass a "
            "local directory, or use --no-weights."
        ) from exc


def resolve(
    name: str,
    *,
    task: str | None,
    no_weights: bool,
    shapes: list[tuple[int, int]],
    allow_pickle: bool = False,
) -> ModelJob:
    """Where `name`'s config and weights are, whether they are real or random, and which task to run.

    `CATALOG_ID=PATH` benchmarks the local copy at PATH and stores the results under CATALOG_ID, so that a model
    installed from a package or a mirror counts as measured for the catalog's entry (and the recommender uses it).
    """
    alias, sep, target = name.partition("=")
    if sep and alias and target and not name.startswith("random:") and Path(target).expanduser().exists():
        job = resolve(target, task=task, no_weights=no_weights, shapes=shapes, allow_pickle=allow_pickle)
        job.model_id = alias.strip()
        return job
    shapes_t = tuple(shapes)
    if name.startswith("random:"):
        config = parse_random_spec(name)
        return ModelJob(name, task or infer_task(config), "random", config=config, shapes=shapes_t)
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        if no_weights:
            raise ModelResolutionError(f"{name}: a GGUF file has no separate config; --no-weights needs a config.json.")
        return ModelJob(name, task or "text-generation", "real", path=str(path.parent.resolve()),
                        gguf_file=path.name, shapes=shapes_t)  # fmt: skip
    if path.is_file():
        config = _read_config(path)
        return ModelJob(name, task or infer_task(config), "random", config=config, shapes=shapes_t)
    if path.is_dir():
        config_path = path / "config.json"
        ggufs = sorted(p.name for p in path.glob("*.gguf"))
        if not config_path.is_file():
            if ggufs and not no_weights:
                return ModelJob(name, task or "text-generation", "real", path=str(path.resolve()),
                                gguf_file=ggufs[0], shapes=shapes_t)  # fmt: skip
            raise ModelResolutionError(f"{path} has no config.json: not a Hugging Face model directory.")
        config = _read_config(config_path)
        if no_weights:
            return ModelJob(name, task or infer_task(config), "random", config=config, shapes=shapes_t)
        _check_weights(path, allow_pickle)
        return ModelJob(name, task or infer_task(config), "real", path=str(path.resolve()), shapes=shapes_t)
    if name.count("/") > 1 or name.startswith((".", "/", "~")):
        raise ModelResolutionError(f"{name}: no such file or directory.")
    if no_weights:
        config = _read_config(_hub_config(name))
        return ModelJob(name, task or infer_task(config), "random", config=config, shapes=shapes_t)
    snapshot = _hub_snapshot(name, allow_pickle)
    config = _read_config(snapshot / "config.json") if (snapshot / "config.json").is_file() else {}
    _check_weights(snapshot, allow_pickle)
    return ModelJob(name, task or infer_task(config), "real", path=str(snapshot), shapes=shapes_t)
