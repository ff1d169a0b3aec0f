"""Image classification: top-1 and top-5 accuracy (and macro-F1) on small grey-scale sets (MNIST, Fashion-MNIST,
scikit-learn's 8x8 digits).

Pixels go through the model's own image processor when it has one (AutoImageProcessor from the model directory, or
from --tokenizer DIR for a random-weight model); otherwise they are scaled to [0, 1], repeated to the model's
channels, resized to the config's image_size with bilinear interpolation and normalised with mean 0.5 / std 0.5
(the ViT convention), which the outcome's note says. The model's label names (config.id2label) are matched to the
set's by name (bench.metrics.map_labels, --label-map overrides); a model whose labels do not match is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.metrics import macro_f1, top_k_accuracy
from bench.tasks.classification import label_mapping, macro_f1_ci, model_labels
from bench.tasks.common import EvalOutcome, EvaluationError, Stopwatch, mean_ci

# scikit-learn's optdigits pixels are counts of set pixels in 4x4 blocks (0..16), not 0..255 intensities.
PIXEL_MAX = {"digits_csv": 16}


def load_image_processor(backend: Any) -> Any | None:
    """The model's image processor, or None when it has none (random weights without --tokenizer, or a directory
    without preprocessor_config.json)."""
    source = backend.job.path or backend.job.tokenizer
    if not source or not (Path(source) / "preprocessor_config.json").is_file():
        return None
    from bench.tasks.speech import _transformers

    transformers = _transformers()
    transformers.logging.set_verbosity_error()  # "requires torchvision; falling back to the PIL processor"
    try:
        return transformers.AutoImageProcessor.from_pretrained(source, trust_remote_code=backend.trust_remote_code)
    except (OSError, ValueError) as exc:
        raise EvaluationError(f"Cannot load an image processor from {source}: {exc}".splitlines()[0]) from exc


def to_rgb_uint8(images: list[Any], pixel_max: int) -> list[Any]:
    """(H, W) grey (or (H, W, C)) arrays in 0..pixel_max -> (H, W, 3) uint8 in 0..255."""
    import numpy as np

    out = []
    for image in images:
        array = np.asarray(image, dtype=np.float32)
        if pixel_max != 255:
            array = array * (255.0 / pixel_max)
        array = np.clip(np.rint(array), 0, 255).astype(np.uint8)
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        out.append(array)
    return out


def manual_pixels(images: list[Any], config: dict[str, Any], device: str, dtype: Any) -> Any:
    """Scale to [0, 1], resize to the config's image_size (bilinear), match its channels, normalise 0.5 / 0.5."""
    import numpy as np
    import torch

    size = int(config.get("image_size") or 224)
    channels = int(config.get("num_channels") or 3)
    batch = torch.from_numpy(np.stack([np.asarray(i, dtype=np.float32) for i in images])) / 255.0  # (B, H, W, 3)
    batch = batch.permute(0, 3, 1, 2)
    batch = batch[:, :1] if channels == 1 else batch[:, :channels]
    if batch.shape[-2:] != (size, size):
        batch = torch.nn.functional.interpolate(batch, size=(size, size), mode="bilinear", align_corners=False)
    return ((batch - 0.5) / 0.5).to(device=device, dtype=dtype)


def evaluate(backend: Any, evalset: Any, spec: Any) -> EvalOutcome:
    import numpy as np
    import torch

    from bench.backends.transformers_backend import torch_dtype

    dataset = tuple(evalset.label_names)
    mapping = label_mapping(backend.config, dataset, spec.label_map)
    labels = model_labels(backend.config)
    examples = list(evalset.examples)
    if not examples:
        raise EvaluationError(f"{evalset.name} has no images to score.")
    processor = load_image_processor(backend)
    pixel_max = PIXEL_MAX.get(evalset.spec.parser, 255)
    k = min(5, len(labels))
    dtype = torch_dtype(backend.dtype)
    watch = Stopwatch(backend.device)
    ranked: list[list[str]] = []
    for start in range(0, len(examples), spec.batch_size):
        chunk = examples[start : start + spec.batch_size]
        with watch:
            images = to_rgb_uint8([e.image for e in chunk], pixel_max)
            if processor is not None:
                pixels = processor(images=images, return_tensors="pt")["pixel_values"].to(backend.device, dtype)
            else:
                pixels = manual_pixels(images, backend.config, backend.device, dtype)
            with torch.inference_mode():
                logits = backend.model(pixel_values=pixels).logits
            top = logits.float().topk(k, dim=-1).indices.tolist()
        ranked.extend([labels[i] for i in row] for row in top)
    references = [e.label for e in examples]
    mapped = [mapping.map_all(row) for row in ranked]  # dataset indexes, -1 for an abstaining model label
    top1 = [row[0] for row in mapped]
    metrics: dict[str, float] = {"top-1-accuracy": top_k_accuracy(references, mapped, k=1)}
    ci: dict[str, list[float]] = {
        "top-1-accuracy": mean_ci([float(r == p) for r, p in zip(references, top1, strict=True)],
                                  spec.n_resamples, spec.seed),
    }  # fmt: skip
    if k >= 5:
        metrics["top-5-accuracy"] = top_k_accuracy(references, mapped, k=5)
        hits5 = [float(r in row[:5]) for r, row in zip(references, mapped, strict=True)]
        ci["top-5-accuracy"] = mean_ci(hits5, spec.n_resamples, spec.seed)
    metrics["macro-f1"] = macro_f1(references, top1, list(range(len(dataset))))
    ci["macro-f1"] = macro_f1_ci(references, top1, len(dataset), spec.n_resamples, spec.seed)
    first = np.asarray(examples[0].image)
    prep = (
        f"{type(processor).__name__}"
        if processor is not None
        else f"no image processor: {first.shape[1]}x{first.shape[0]} grey -> "
        f"{int(backend.config.get('image_size') or 224)}px bilinear, mean/std 0.5"
    )
    note = f"labels mapped by {mapping.method}; {prep}" + (
        f"; {list(mapping.unmapped)} abstain" if mapping.unmapped else ""
    )
    return EvalOutcome(
        primary_metric="top-1-accuracy",
        metrics=metrics,
        ci95=ci,
        n_examples=len(examples),
        seconds=watch.seconds,
        note=note,
        predictions=[row[0] for row in ranked],
    )
