"""Turn what the user named (local directory, config.json, GGUF file, Hub id, or `random:TYPE,key=value`) into a
ModelJob a worker can load. Runs in the parent and never imports torch or transformers.

Hub ids go through huggingface_hub's cache: downloaded when online, and with HF_HUB_OFFLINE=1 and no cached copy
the message says so. Pickle checkpoints (*.bin, *.pt, *.ckpt) are refused unless allow_pickle.
"""

from __future__ import annotations

from pathlib import Path

from bench.spec import ModelJob
from catalog.errors import ModelResolutionError
from catalog.model_config import (
    cached_hub_config,
    infer_task,
    looks_like_a_path,
    parse_random_spec,
    read_config,
    split_alias,
)

__all__ = ["ModelResolutionError", "PickleRefusedError", "infer_task", "parse_random_spec", "resolve"]

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


class PickleRefusedError(ModelResolutionError):
    pass


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
    from huggingface_hub import hf_hub_download

    cached = cached_hub_config(repo_id)
    if cached is not None:
        return cached
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
    aliased = split_alias(name)
    if aliased:
        job = resolve(aliased[1], task=task, no_weights=no_weights, shapes=shapes, allow_pickle=allow_pickle)
        job.model_id = aliased[0]
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
        config = read_config(path)
        return ModelJob(name, task or infer_task(config), "random", config=config, shapes=shapes_t)
    if path.is_dir():
        config_path = path / "config.json"
        ggufs = sorted(p.name for p in path.glob("*.gguf"))
        if not config_path.is_file():
            if ggufs and not no_weights:
                return ModelJob(name, task or "text-generation", "real", path=str(path.resolve()),
                                gguf_file=ggufs[0], shapes=shapes_t)  # fmt: skip
            raise ModelResolutionError(f"{path} has no config.json: not a Hugging Face model directory.")
        config = read_config(config_path)
        if no_weights:
            return ModelJob(name, task or infer_task(config), "random", config=config, shapes=shapes_t)
        _check_weights(path, allow_pickle)
        return ModelJob(name, task or infer_task(config), "real", path=str(path.resolve()), shapes=shapes_t)
    if looks_like_a_path(name):
        raise ModelResolutionError(f"{name}: no such file or directory.")
    if no_weights:
        config = read_config(_hub_config(name))
        return ModelJob(name, task or infer_task(config), "random", config=config, shapes=shapes_t)
    snapshot = _hub_snapshot(name, allow_pickle)
    config = read_config(snapshot / "config.json") if (snapshot / "config.json").is_file() else {}
    _check_weights(snapshot, allow_pickle)
    return ModelJob(name, task or infer_task(config), "real", path=str(snapshot), shapes=shapes_t)
