"""Speech: automatic speech recognition (WER and CER; CER is the headline for Chinese, Japanese, Korean and Thai)
and audio classification (accuracy, macro-F1), on decoded, resampled waveforms.

Audio is decoded without torchaudio or librosa: WAV through the standard library's `wave` module and numpy,
anything else (FLAC ...) through `soundfile` (an optional dependency bundling libsndfile; a clear error says to
install it). Channels are averaged to mono and the waveform is resampled to the feature extractor's rate with
scipy.signal.resample_poly (numpy linear interpolation when scipy is absent).

ASR models: Whisper (encoder-decoder, greedy `generate`, the language and the transcribe task forced when the set's
language is known) and CTC models (Wav2Vec2ForCTC and the like: argmax per frame, the tokenizer collapses repeats
and blanks). Both need the model's processor (feature extractor + tokenizer): the model directory, or --tokenizer
DIR for a random-weight model. Transcripts are normalised (bench.metrics.normalize_transcript) before scoring."""

from __future__ import annotations

import math
import wave
from functools import lru_cache
from pathlib import Path
from typing import Any

from bench.metrics import cer, has_cjk, normalize_transcript, wer
from bench.tasks.classification import label_mapping, model_labels, score
from bench.tasks.common import EvalOutcome, EvaluationError, Stopwatch, load_tokenizer, ratio_ci

CER_LANGUAGES = ("zh", "ja", "ko", "th", "yue")  # no spaces between words: CER is the headline


# ------------------------------------------------------------------------------------------------ decoding


def _read_wav(path: Path) -> tuple[Any, int]:
    import numpy as np

    with wave.open(str(path), "rb") as handle:
        channels, width, rate = handle.getnchannels(), handle.getsampwidth(), handle.getframerate()
        raw = handle.readframes(handle.getnframes())
    if width == 1:  # unsigned 8-bit
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:  # packed 24-bit little endian
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        data = (np.where(ints >= 1 << 23, ints - (1 << 24), ints)).astype(np.float32) / float(1 << 23)
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float32) / float(1 << 31)
    else:
        raise EvaluationError(f"{path}: {8 * width}-bit WAV samples are not supported.")
    return data.reshape(-1, channels).mean(axis=1), rate


def _read_soundfile(path: Path) -> tuple[Any, int]:
    try:
        import soundfile
    except ImportError:
        raise EvaluationError(
            f"{path.name}: decoding {path.suffix or 'this'} audio needs the soundfile package "
            "(pip install soundfile; it bundles libsndfile). WAV files need nothing extra."
        ) from None
    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return data.mean(axis=1), int(rate)


def read_audio(path: str | Path) -> tuple[Any, int]:
    """(mono float32 waveform in [-1, 1], sampling rate) of a WAV (standard library) or FLAC/OGG (soundfile) file.
    WAV encodings `wave` cannot read (IEEE float, A-law ...) go to soundfile as well."""
    path = Path(path)
    if path.suffix.lower() == ".wav":
        try:
            return _read_wav(path)
        except wave.Error:
            return _read_soundfile(path)
    return _read_soundfile(path)


def resample(waveform: Any, rate: int, target: int) -> Any:
    """`waveform` at `rate` Hz -> `target` Hz: polyphase filtering (scipy), or linear interpolation without scipy."""
    import numpy as np

    if rate == target:
        return np.asarray(waveform, dtype=np.float32)
    try:
        from scipy.signal import resample_poly
    except ImportError:
        n = round(len(waveform) * target / rate)
        positions = np.arange(n) * (rate / target)
        return np.interp(positions, np.arange(len(waveform)), waveform).astype(np.float32)
    g = math.gcd(int(rate), int(target))
    return resample_poly(waveform, target // g, rate // g).astype(np.float32)


@lru_cache(maxsize=512)
def _decoded(path: str) -> tuple[Any, int]:
    return read_audio(path)


def load_waveform(path: str | Path, target: int) -> Any:
    data, rate = _decoded(str(path))
    return resample(data, rate, target)


# ------------------------------------------------------------------------------------------- processors


def _transformers() -> Any:
    """The transformers module, untyped (its processor classes carry no annotations)."""
    import transformers

    return transformers


def _source(backend: Any) -> str | None:
    source: str | None = backend.job.path or backend.job.tokenizer
    return source


def default_feature_extractor(config: dict[str, Any]) -> Any:
    """What a model of this type expects when its directory has no preprocessor_config.json (random weights)."""
    transformers = _transformers()
    model_type = str(config.get("model_type", ""))
    if model_type == "whisper":
        return transformers.WhisperFeatureExtractor(feature_size=int(config.get("num_mel_bins") or 80))
    if model_type == "audio-spectrogram-transformer":
        return transformers.ASTFeatureExtractor()
    return transformers.Wav2Vec2FeatureExtractor(
        return_attention_mask=str(config.get("feat_extract_norm", "group")) == "layer"
    )


def load_feature_extractor(backend: Any) -> tuple[Any, bool]:
    """(feature extractor, whether it is the model's own) from the model directory or --tokenizer DIR."""
    transformers = _transformers()
    source = _source(backend)
    if source and any((Path(source) / n).is_file() for n in ("preprocessor_config.json", "processor_config.json")):
        try:
            return transformers.AutoFeatureExtractor.from_pretrained(
                source, trust_remote_code=backend.trust_remote_code
            ), True
        except (OSError, ValueError, KeyError):
            try:
                processor = transformers.AutoProcessor.from_pretrained(
                    source, trust_remote_code=backend.trust_remote_code
                )
                return processor.feature_extractor, True
            except (OSError, ValueError, KeyError, AttributeError) as exc:
                raise EvaluationError(f"Cannot load a feature extractor from {source}: {exc}".splitlines()[0]) from exc
    return default_feature_extractor(backend.config), False


def features(extractor: Any, waveforms: list[Any], device: str, dtype: Any) -> dict[str, Any]:
    """Model inputs for a batch of waveforms (already at the extractor's rate), floats cast to the model dtype."""
    rate = int(getattr(extractor, "sampling_rate", 16000))
    kwargs: dict[str, Any] = {"sampling_rate": rate, "return_tensors": "pt"}
    if type(extractor).__name__ != "WhisperFeatureExtractor":  # Whisper pads every clip to its 30 s window
        kwargs["padding"] = True
    encoded = extractor(waveforms, **kwargs)
    return {
        k: (v.to(device=device, dtype=dtype) if v.is_floating_point() else v.to(device))
        for k, v in encoded.items()
        if k in ("input_features", "input_values", "attention_mask")
    }


def length_order(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Batches of similar length (longest first): less padding, which CTC models would otherwise transcribe."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[s : s + batch_size] for s in range(0, len(order), batch_size)]


# -------------------------------------------------------------------------------------------------- ASR


def whisper_prompt(backend: Any, tokenizer: Any, language: str) -> dict[str, Any]:
    """How to force the language and the transcribe task: generate(language=, task=) when the generation config
    knows the languages (real Whisper checkpoints), else the prompt tokens themselves when the tokenizer has them."""
    generation: Any = getattr(backend.model, "generation_config", None)
    lang = language.split("-")[0].lower() if language and language not in ("none", "multi") else ""
    if getattr(generation, "lang_to_id", None) and getattr(generation, "task_to_id", None):
        kwargs: dict[str, Any] = {"task": "transcribe"}
        if lang and f"<|{lang}|>" in generation.lang_to_id:
            kwargs["language"] = lang
        return kwargs
    tokens = ["<|startoftranscript|>"] + ([f"<|{lang}|>"] if lang else []) + ["<|transcribe|>", "<|notimestamps|>"]
    vocab = tokenizer.get_vocab()
    if all(t in vocab for t in tokens):
        return {"prompt_ids": [vocab[t] for t in tokens]}
    return {}


def transcribe(backend: Any, evalset: Any, spec: Any, watch: Stopwatch) -> tuple[list[str], int, str]:
    """Hypotheses in the set's order, how many hit the max_new_tokens cap, and what was forced."""
    import torch

    from bench.backends.transformers_backend import torch_dtype

    tokenizer = load_tokenizer(backend)
    extractor, _own = load_feature_extractor(backend)
    rate = int(getattr(extractor, "sampling_rate", 16000))
    dtype = torch_dtype(backend.dtype)
    examples = list(evalset.examples)
    whisper = str(backend.config.get("model_type")) == "whisper"
    forced = whisper_prompt(backend, tokenizer, evalset.spec.language) if whisper else {}
    hypotheses = [""] * len(examples)
    capped = 0
    with watch:
        waveforms = [load_waveform(e.path, rate) for e in examples]
    for indexes in length_order([len(w) for w in waveforms], spec.batch_size):
        with watch:
            inputs = features(extractor, [waveforms[i] for i in indexes], backend.device, dtype)
            with torch.inference_mode():
                if whisper:
                    kwargs = {k: v for k, v in forced.items() if k != "prompt_ids"}
                    if "prompt_ids" in forced:
                        prompt = torch.tensor([forced["prompt_ids"]] * len(indexes), device=backend.device)
                        kwargs["decoder_input_ids"] = prompt
                    output = backend.model.generate(**inputs, max_new_tokens=spec.max_new_tokens, **kwargs)
                    ids = output.sequences if hasattr(output, "sequences") else output
                    eos = getattr(backend.model.generation_config, "eos_token_id", None)
                    for row in ids.tolist():
                        capped += int(len(row) >= spec.max_new_tokens and (eos is None or eos not in row))
                    texts = tokenizer.batch_decode(ids, skip_special_tokens=True)
                else:
                    logits = backend.model(**inputs).logits
                    texts = tokenizer.batch_decode(logits.argmax(-1))
        for i, text in zip(indexes, texts, strict=True):
            hypotheses[i] = text.strip()
    what = ""
    if whisper:
        lang = (evalset.spec.language or "").split("-")[0].lower()
        if not forced:
            what = "language and task not forced (no Whisper prompt tokens)"
        elif "language" in forced or ("prompt_ids" in forced and lang and lang not in ("none", "multi")):
            what = f"Whisper forced to language {lang}, task transcribe"
        else:
            what = "Whisper forced to task transcribe (language detected)"
    return hypotheses, capped, what


def _error_counts(references: list[str], hypotheses: list[str]) -> tuple[list[float], list[float], list[float],
                                                                          list[float]]:  # fmt: skip
    """Per example: word errors, reference words, character errors, reference characters (after normalisation,
    spaces dropped for CJK as bench.metrics.cer does), for the corpus-level bootstrap."""
    word_errors, words, char_errors, chars = [], [], [], []
    for ref, hyp in zip(references, hypotheses, strict=True):
        norm = normalize_transcript(ref)
        n_words = len(norm.split())
        n_chars = len(norm.replace(" ", "")) if has_cjk(norm) else len(norm)
        word_errors.append(wer([ref], [hyp]) * n_words)
        words.append(float(n_words))
        char_errors.append(cer([ref], [hyp]) * n_chars)
        chars.append(float(n_chars))
    return word_errors, words, char_errors, chars


def evaluate_asr(backend: Any, evalset: Any, spec: Any) -> EvalOutcome:
    examples = list(evalset.examples)
    if not examples or any(not e.transcript for e in examples):
        raise EvaluationError(f"{evalset.name} has no reference transcripts: it cannot score speech recognition.")
    watch = Stopwatch(backend.device)
    hypotheses, capped, forced = transcribe(backend, evalset, spec, watch)
    references = [e.transcript for e in examples]
    language = (evalset.spec.language or "").split("-")[0].lower()
    cjk = language in CER_LANGUAGES or any(has_cjk(r) for r in references)
    metrics = {"wer": wer(references, hypotheses), "cer": cer(references, hypotheses)}
    word_errors, words, char_errors, chars = _error_counts(references, hypotheses)
    ci = {
        "wer": ratio_ci(word_errors, words, spec.n_resamples, spec.seed),
        "cer": ratio_ci(char_errors, chars, spec.n_resamples, spec.seed),
    }
    notes = [n for n in (forced, "CER is the headline (no spaces between words)" if cjk else "") if n]
    if capped:
        notes.append(f"{capped} transcript(s) stopped at --max-new-tokens {spec.max_new_tokens}; raise it")
    return EvalOutcome(
        primary_metric="cer" if cjk else "wer",
        metrics=metrics,
        ci95=ci,
        n_examples=len(examples),
        seconds=watch.seconds,
        note="; ".join(notes) or None,
        predictions=hypotheses,
    )


# ------------------------------------------------------------------------------------- audio classification


def evaluate_audio_classification(backend: Any, evalset: Any, spec: Any) -> EvalOutcome:
    import torch

    from bench.backends.transformers_backend import torch_dtype

    dataset = tuple(evalset.label_names)
    mapping = label_mapping(backend.config, dataset, spec.label_map)
    labels = model_labels(backend.config)
    examples = list(evalset.examples)
    if not examples:
        raise EvaluationError(f"{evalset.name} has no clips to score.")
    extractor, own = load_feature_extractor(backend)
    rate = int(getattr(extractor, "sampling_rate", 16000))
    dtype = torch_dtype(backend.dtype)
    watch = Stopwatch(backend.device)
    raw = [0] * len(examples)
    with watch:
        waveforms = [load_waveform(e.path, rate) for e in examples]
    for indexes in length_order([len(w) for w in waveforms], spec.batch_size):
        with watch:
            inputs = features(extractor, [waveforms[i] for i in indexes], backend.device, dtype)
            with torch.inference_mode():
                logits = backend.model(**inputs).logits
        for i, label in zip(indexes, logits.float().argmax(-1).tolist(), strict=True):
            raw[i] = label
    predicted = mapping.map_all([labels[i] for i in raw])
    references = [e.label for e in examples]
    metrics, ci = score(references, predicted, len(dataset), spec.n_resamples, spec.seed)
    rates = sorted({e.sampling_rate for e in examples if e.sampling_rate})
    notes = [f"labels mapped by {mapping.method}"]
    if rates and rates != [rate]:
        notes.append(f"resampled {'/'.join(map(str, rates))} Hz -> {rate} Hz")
    if not own:
        notes.append(f"no feature extractor in the model directory: default {type(extractor).__name__}")
    if mapping.unmapped:
        notes.append(f"{list(mapping.unmapped)} abstain")
    return EvalOutcome(
        primary_metric="accuracy",
        metrics=metrics,
        ci95=ci,
        n_examples=len(examples),
        seconds=watch.seconds,
        note="; ".join(notes),
        predictions=[labels[i] for i in raw],
    )
