"""Accuracy runners for images and speech, wired end to end through `catalog bench run --eval` with tiny
random-weight models (real trained weights for these families are not available offline): ViT on MNIST /
Fashion-MNIST / scikit-learn digits (top-1 / top-5), wav2vec2 CTC and Whisper on the JFK and AISHELL-1 clips
(WER / CER), a wav2vec2 audio classifier on FSDD spoken digits (accuracy). Random weights score at chance level;
what is checked is the wiring: metrics in range, CIs around them, speed, stored columns, refusals. Plus the audio
decoding and resampling against known signals. Needs ../shared/evalsets and torch (skips where absent, fails in
CI); FLAC needs soundfile."""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

from tests.bench.helpers import require
from tests.conftest import require_shared

FAST = ("--batch-sizes", "1", "--seq-lens", "8", "--budget-s", "0.2", "--threads", "2")
EVAL_KEYS = {"metrics", "ci95", "eval_set", "n_examples", "examples_per_s", "primary_metric", "eval_checksum",
             "eval_license", "note"}  # fmt: skip
VIT = {"model_type": "vit", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
       "intermediate_size": 64, "image_size": 28, "patch_size": 7, "architectures": ["ViTForImageClassification"]}  # fmt: skip
WAV2VEC2 = {"model_type": "wav2vec2", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 64, "conv_dim": [32, 32, 32], "conv_stride": [5, 4, 4], "conv_kernel": [10, 4, 4],
            "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4, "feat_extract_norm": "group",
            "do_stable_layer_norm": False, "mask_time_prob": 0.0}  # fmt: skip
CHARS = list("abcdefghijklmnopqrstuvwxyz'")


def _config(tmp_path: Path, name: str, config: dict[str, Any]) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return str(path)


def _digit_labels() -> dict[str, Any]:
    return {"num_labels": 10, "id2label": {str(i): str(i) for i in range(10)},
            "label2id": {str(i): i for i in range(10)}}  # fmt: skip


def _eval_row(result: Any) -> dict[str, Any]:
    assert result.code == 0, result.err
    (row,) = [r for r in result.json() if r["eval_set"]]
    assert set(row) >= EVAL_KEYS
    return row


def _check_row(row: dict[str, Any], primary: str, n: int) -> None:
    assert row["status"] == "ok", row["error"]
    assert row["weights"] == "random" and "random weights" in row["note"]
    assert row["primary_metric"] == primary and row["n_examples"] == n
    assert row["examples_per_s"] > 0 and len(row["eval_checksum"]) == 64 and row["eval_license"]
    for name, value in row["metrics"].items():
        low, high = row["ci95"][name]
        assert low <= value <= high, (name, value, low, high)


# ---------------------------------------------------------------------------------------------------- images


def test_random_vit_scores_chance_on_mnist_and_is_stored(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require("torch")
    require_shared("evalsets/mnist")
    model = _config(tmp_path, "vit", VIT | _digit_labels())
    url = f"sqlite:///{tmp_path / 'eval.db'}"
    row = _eval_row(run_cli("--db", url, "bench", "run", "-m", model, "--task", "image-classification", "--eval",
                            "mnist", "--allow-random-eval", "--limit", "200", *FAST, "--format", "json"))  # fmt: skip
    _check_row(row, "top-1-accuracy", 200)
    assert "labels mapped by name" in row["note"] and "no image processor" in row["note"]
    top1, top5 = row["metrics"]["top-1-accuracy"], row["metrics"]["top-5-accuracy"]
    assert 0 <= top1 <= 0.25 and 0.3 <= top5 <= 0.7 and top1 <= top5  # chance: 0.1 and 0.5
    assert 0 <= row["metrics"]["macro-f1"] <= 1

    from bench.store import get_run
    from catalog.db import open_database

    db = open_database(url)
    (stored,) = [r for r in get_run(db, row["run_id"]).results if r.eval_set]
    assert stored.metrics == row["metrics"] and stored.ci95 == row["ci95"] and stored.eval_set == "mnist"
    assert stored.primary_metric == "top-1-accuracy" and stored.examples_per_s == row["examples_per_s"]
    db.dispose()


def test_vit_with_its_image_processor_on_digits_and_refusal_on_fashion(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require("torch")
    require_shared("evalsets/sklearn_digits")
    require_shared("evalsets/fashion_mnist")
    from transformers import ViTImageProcessor

    processor_dir = tmp_path / "vit-processor"
    ViTImageProcessor(size={"height": 28, "width": 28}).save_pretrained(processor_dir)
    model = _config(tmp_path, "vit", VIT | _digit_labels())
    row = _eval_row(run_cli("bench", "run", "-m", model, "--task", "image-classification", "--eval", "digits",
                            "--allow-random-eval", "--limit", "100", "--tokenizer", str(processor_dir), *FAST,
                            "--format", "json"))  # fmt: skip
    _check_row(row, "top-1-accuracy", 100)
    assert "ViTImageProcessor" in row["note"]
    assert 0 <= row["metrics"]["top-1-accuracy"] <= 0.3

    # Digit labels cannot score clothes: a refusal, not a number.
    refused = _eval_row(run_cli("bench", "run", "-m", model, "--task", "image-classification", "--eval",
                                "fashion-mnist", "--allow-random-eval", "--limit", "20", *FAST, "--format", "json"))  # fmt: skip
    assert refused["status"] == "failed" and "Cannot map the model's labels" in refused["error"]
    assert refused["metrics"] == {}


# ---------------------------------------------------------------------------------------------------- speech


def _ctc_processor(tmp_path: Path) -> Path:
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2Processor

    vocab = {"<pad>": 0, "<unk>": 1, "|": 2} | {c: i + 3 for i, c in enumerate(CHARS)}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(str(tmp_path / "vocab.json"), word_delimiter_token="|")
    directory = tmp_path / "ctc-processor"
    Wav2Vec2Processor(Wav2Vec2FeatureExtractor(), tokenizer).save_pretrained(directory)
    return directory


def test_random_ctc_model_wer_and_cer_on_jfk_flac_and_aishell(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require("torch")
    require("soundfile")
    require_shared("evalsets/jfk_speech")
    require_shared("evalsets/aishell1_sample")
    processor = _ctc_processor(tmp_path)
    model = _config(tmp_path, "ctc", WAV2VEC2 | {"vocab_size": 32, "architectures": ["Wav2Vec2ForCTC"]})
    predictions = tmp_path / "predictions.jsonl"
    args = ("bench", "run", "-m", model, "--task", "automatic-speech-recognition", "--allow-random-eval",
            "--tokenizer", str(processor), *FAST, "--format", "json")  # fmt: skip
    jfk = _eval_row(run_cli(*args, "--eval", "jfk", "--save-predictions", str(predictions)))
    _check_row(jfk, "wer", 1)
    assert jfk["metrics"]["wer"] >= 0.9 and jfk["metrics"]["cer"] >= 0.5  # nothing right by chance
    (saved,) = [json.loads(line) for line in predictions.read_text(encoding="utf-8").splitlines()]
    assert isinstance(saved["prediction"], str)

    zh = _eval_row(run_cli(*args, "--eval", "aishell"))
    _check_row(zh, "cer", 1)  # Chinese: CER is the headline
    assert zh["metrics"]["cer"] >= 0.9  # a Latin-letter vocabulary gets no Chinese character right


def test_random_whisper_transcribes_with_forced_language(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require("torch")
    require_shared("evalsets/aishell1_sample")
    from transformers import AddedToken, WhisperFeatureExtractor, WhisperProcessor, WhisperTokenizer

    # A byte-level vocabulary (GPT-2's byte -> unicode table) plus Whisper's prompt tokens, no merges.
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    chars, extra = [], 0
    for b in range(256):
        chars.append(chr(b) if b in printable else chr(256 + extra))
        extra += b not in printable
    specials = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|zh|>", "<|translate|>", "<|transcribe|>",
                "<|notimestamps|>"]  # fmt: skip
    vocab = {c: i for i, c in enumerate(chars)} | {s: 256 + i for i, s in enumerate(specials)}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (tmp_path / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    tokenizer = WhisperTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    tokenizer.add_special_tokens({"additional_special_tokens": [AddedToken(s, special=True) for s in specials[1:]]})
    processor = tmp_path / "whisper-processor"
    WhisperProcessor(WhisperFeatureExtractor(feature_size=80), tokenizer).save_pretrained(processor)
    ids = {s: tokenizer.convert_tokens_to_ids(s) for s in specials}
    model = _config(tmp_path, "whisper", {
        "model_type": "whisper", "vocab_size": len(tokenizer), "d_model": 32, "encoder_layers": 1,
        "decoder_layers": 1, "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 64,
        "decoder_ffn_dim": 64, "num_mel_bins": 80, "max_target_positions": 64, "suppress_tokens": [],
        "begin_suppress_tokens": [], "pad_token_id": ids["<|endoftext|>"], "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|endoftext|>"], "decoder_start_token_id": ids["<|startoftranscript|>"],
    })  # fmt: skip
    row = _eval_row(run_cli("bench", "run", "-m", model, "--eval", "aishell", "--allow-random-eval", "--tokenizer",
                            str(processor), "--max-new-tokens", "8", *FAST, "--format", "json"))  # fmt: skip
    _check_row(row, "cer", 1)
    assert row["task"] == "automatic-speech-recognition"
    assert "forced to language zh" in row["note"] and "--max-new-tokens 8" in row["note"]
    assert row["metrics"]["cer"] >= 0.9


def test_random_audio_classifier_on_fsdd_resamples_8k(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require("torch")
    require_shared("evalsets/fsdd")
    model = _config(tmp_path, "audio", WAV2VEC2 | _digit_labels() | {
        "architectures": ["Wav2Vec2ForSequenceClassification"], "classifier_proj_size": 16})  # fmt: skip
    row = _eval_row(run_cli("bench", "run", "-m", model, "--eval", "fsdd", "--allow-random-eval", "--limit", "60",
                            *FAST, "--format", "json"))  # fmt: skip
    _check_row(row, "accuracy", 60)
    assert row["task"] == "audio-classification"
    assert "resampled 8000 Hz -> 16000 Hz" in row["note"] and "labels mapped by name" in row["note"]
    assert 0 <= row["metrics"]["accuracy"] <= 0.3  # chance: 0.1


# ------------------------------------------------------------------------------------------- decoding units


def _write_wav(path: Path, samples: Any, rate: int, width: int = 2, channels: int = 1) -> None:
    import numpy as np

    scaled = np.clip(np.asarray(samples), -1, 1)
    if width == 1:
        raw = (scaled * 127 + 128).astype(np.uint8).tobytes()
    else:
        raw = (scaled * (2 ** (8 * width - 1) - 1)).astype("<i2" if width == 2 else "<i4").tobytes()
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(raw)


def test_wav_decoding_and_resampling(tmp_path: Path) -> None:
    import numpy as np

    from bench.tasks.speech import load_waveform, read_audio, resample

    t = np.arange(8000) / 8000
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    for width in (1, 2, 4):
        _write_wav(tmp_path / f"tone{width}.wav", tone, 8000, width)
        data, rate = read_audio(tmp_path / f"tone{width}.wav")
        assert rate == 8000 and data.dtype == np.float32 and len(data) == 8000
        assert np.abs(data - tone).max() < (0.02 if width == 1 else 1e-3)
    stereo = np.stack([tone, -tone], axis=1).reshape(-1)  # interleaved channels average to silence
    _write_wav(tmp_path / "stereo.wav", stereo, 8000, 2, channels=2)
    assert np.abs(read_audio(tmp_path / "stereo.wav")[0]).max() < 1e-3

    up = load_waveform(tmp_path / "tone2.wav", 16000)
    assert len(up) == 16000  # 1 s at the new rate, the same 440 Hz tone
    spectrum = np.abs(np.fft.rfft(up))
    assert abs(np.argmax(spectrum) * 16000 / len(up) - 440) < 2
    assert len(resample(up, 16000, 44100)) == 44100 and len(resample(up, 16000, 16000)) == 16000


def test_flac_decodes_through_soundfile(tmp_path: Path) -> None:
    require_shared("evalsets/jfk_speech")
    require("soundfile")
    from bench import evalsets
    from bench.tasks.speech import read_audio

    (example,) = evalsets.load("jfk").examples
    data, rate = read_audio(example.path)
    assert rate == 44100 and data.ndim == 1 and 10.5 < len(data) / rate < 11.5
    assert 0.01 < float(abs(data).max()) <= 1.0
