"""transformers backend: Auto* classes chosen by task, real weights (safetensors, or GGUF through `gguf_file=`) or
random weights from a config.

Random weights skip transformers' initialisation (slow: 2.6 s for bert-base on 2 cores) and fill every matrix
with uniform noise of std 0.02 (norm weights 1, biases 0): timing needs finite, non-denormal values, not a trained
distribution.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.inputs import GENERATION_TASKS, Shape, make_inputs
from bench.spec import ModelJob

AUTO_CLASSES = {
    "feature-extraction": "AutoModel",
    "sentence-similarity": "AutoModel",
    "text-classification": "AutoModelForSequenceClassification",
    "zero-shot-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "question-answering": "AutoModelForQuestionAnswering",
    "fill-mask": "AutoModelForMaskedLM",
    "text-generation": "AutoModelForCausalLM",
    "text2text-generation": "AutoModelForSeq2SeqLM",
    "summarization": "AutoModelForSeq2SeqLM",
    "translation": "AutoModelForSeq2SeqLM",
    "image-classification": "AutoModelForImageClassification",
    "audio-classification": "AutoModelForAudioClassification",
    "automatic-speech-recognition": "AutoModelForSpeechSeq2Seq",
}
UNIFORM_BOUND = 0.02 * 3**0.5  # uniform(-a, a) has std a / sqrt(3)


def torch_dtype(name: str) -> Any:
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def synchronize(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def fill_random(model: Any, seed: int = 0, block: int = 1 << 22) -> None:
    """Deterministic random weights for latency: one seeded uniform block, tiled into every matrix (drawing 110M
    fresh numbers costs ~0.5 s on 2 cores; copying a 4M-value block costs ~0.1 s, and timing does not depend on
    which random values a matrix holds). Biases are zero, norm weights one."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    source = torch.empty(block).uniform_(-UNIFORM_BOUND, UNIFORM_BOUND, generator=generator)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.dim() >= 2:
                target = parameter if parameter.device.type == "cpu" else torch.empty_like(parameter, device="cpu")
                flat = target.view(-1)
                for start in range(0, flat.numel(), block):
                    stop = min(start + block, flat.numel())
                    flat[start:stop].copy_(source[: stop - start])
                if target is not parameter:
                    parameter.copy_(target)
            elif name.endswith("bias"):
                parameter.zero_()
            else:
                parameter.fill_(1.0)


class TransformersBackend:
    name = "transformers"

    def __init__(
        self,
        job: ModelJob,
        *,
        device: str = "cpu",
        dtype: str = "float32",
        trust_remote_code: bool = False,
        allow_pickle: bool = False,
    ) -> None:
        self.job = job
        self.device = device
        self.dtype = dtype
        self.trust_remote_code = trust_remote_code
        self.allow_pickle = allow_pickle
        self.model: Any = None
        self.config: dict[str, Any] = dict(job.config)

    @staticmethod
    def prepare_runtime(threads: int | None) -> dict[str, Any]:
        """Set threads and import what every model needs (torch, transformers, its configuration and modeling core:
        ~3 s on 2 cores, before the job arrives; a model's own module is ~0.1 s more); what the run's software
        record needs. Versions go out as plain str: torch's TorchVersion would make the parent import torch to
        unpickle it."""
        import torch
        import transformers
        import transformers.initialization
        import transformers.modeling_utils  # the bulk of a model's import time
        import transformers.models.auto.modeling_auto

        if threads:
            torch.set_num_threads(threads)
        info: dict[str, Any] = {
            "torch": str(torch.__version__),
            "transformers": str(transformers.__version__),
            "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
            "mkldnn": bool(torch.backends.mkldnn.is_available()),  # type: ignore[no-untyped-call]
        }
        if torch.cuda.is_available():
            info["cuda"] = torch.version.cuda
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return info

    def _auto_class(self) -> Any:
        import transformers

        name = AUTO_CLASSES.get(self.job.task, "AutoModel")
        if self.job.task == "automatic-speech-recognition" and self.config.get("model_type") != "whisper":
            name = "AutoModelForCTC"
        return getattr(transformers, name)

    def load(self) -> None:
        """Load or instantiate the model on the device in the dtype, in eval mode."""
        import transformers

        dtype = torch_dtype(self.dtype)
        if self.job.weights == "random":
            config_dict = dict(self.job.config)
            model_type = config_dict.pop("model_type", None)
            if not model_type:
                raise ValueError("the config has no model_type: cannot tell which architecture to build")
            for key in ("transformers_version", "_name_or_path", "auto_map"):
                config_dict.pop(key, None)
            config = transformers.AutoConfig.for_model(model_type, **config_dict)
            self.config = config.to_dict()
            from transformers.initialization import no_init_weights

            with no_init_weights():
                model = self._auto_class().from_config(config, trust_remote_code=self.trust_remote_code)
            fill_random(model)
            model = model.to(device=self.device, dtype=dtype)
        else:
            if self.job.path is None:
                raise ValueError(f"{self.job.model_id}: real weights need a local directory, and none was resolved")
            if self.job.gguf_file is None:
                self.config = transformers.AutoConfig.from_pretrained(
                    self.job.path, trust_remote_code=self.trust_remote_code
                ).to_dict()
            kwargs: dict[str, Any] = {"dtype": dtype, "trust_remote_code": self.trust_remote_code}
            if self.job.gguf_file:
                kwargs["gguf_file"] = self.job.gguf_file
            elif not self.allow_pickle:
                kwargs["use_safetensors"] = True
            model = self._auto_class().from_pretrained(self.job.path, **kwargs).to(self.device)
            if self.job.gguf_file:
                self.config = model.config.to_dict()
        model.eval()
        self.model = model
        synchronize(self.device)

    def inputs(self, shape: Shape, *, image_size: int | None, audio_seconds: float) -> dict[str, Any]:
        return make_inputs(
            self.job.task,
            self.config,
            shape,
            device=self.device,
            float_dtype=torch_dtype(self.dtype),
            image_size=image_size,
            audio_seconds=audio_seconds,
        )

    @property
    def generates(self) -> bool:
        return self.job.task in GENERATION_TASKS

    def forward_step(self, inputs: dict[str, Any]) -> Callable[[], Any]:
        """One forward pass under inference_mode, synchronised: what a bare timing loop would time."""
        import torch

        model, device = self.model, self.device
        if self.config.get("is_encoder_decoder") and "decoder_input_ids" not in inputs and "input_ids" in inputs:
            start = self.config.get("decoder_start_token_id") or self.config.get("pad_token_id") or 0
            inputs = {**inputs, "decoder_input_ids": torch.full_like(inputs["input_ids"][:, :1], int(start))}

        def step() -> Any:
            with torch.inference_mode():  # entering it costs ~1.5 us: nothing next to a forward pass
                output = model(**inputs)
            synchronize(device)
            return output

        def cpu_step() -> Any:  # the same without the device check: CPU work is done when the call returns
            with torch.inference_mode():
                return model(**inputs)

        return cpu_step if device == "cpu" else step

    def generation_step(self, inputs: dict[str, Any], new_tokens: int) -> Callable[[], tuple[float, list[float]]]:
        """Greedy generation with the KV cache: returns (prefill ms, [decode ms per step]). Prefill is the time to
        the first token (the whole prompt, or encoder + first decoder step)."""
        import torch

        model, device = self.model, self.device
        encoder_decoder = bool(self.config.get("is_encoder_decoder"))
        start_id = int(self.config.get("decoder_start_token_id") or self.config.get("pad_token_id") or 0)
        clock = time.perf_counter_ns

        def step() -> tuple[float, list[float]]:
            decode: list[float] = []
            with torch.inference_mode():
                begin = clock()
                if encoder_decoder:
                    encoder_outputs = model.get_encoder()(
                        input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
                    )
                    first = torch.full_like(inputs["input_ids"][:, :1], start_id)
                    output = model(
                        encoder_outputs=encoder_outputs,
                        attention_mask=inputs["attention_mask"],
                        decoder_input_ids=first,
                        use_cache=True,
                    )
                else:
                    output = model(**inputs, use_cache=True)
                token = output.logits[:, -1:].argmax(-1)
                synchronize(device)
                prefill = (clock() - begin) / 1e6
                past = output.past_key_values
                mask = inputs.get("attention_mask")
                for _ in range(new_tokens - 1):
                    begin = clock()
                    if encoder_decoder:
                        output = model(
                            encoder_outputs=encoder_outputs,
                            attention_mask=inputs["attention_mask"],
                            decoder_input_ids=token,
                            past_key_values=past,
                            use_cache=True,
                        )
                    else:
                        if mask is not None:
                            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
                        output = model(input_ids=token, attention_mask=mask, past_key_values=past, use_cache=True)
                    token = output.logits[:, -1:].argmax(-1)
                    past = output.past_key_values
                    synchronize(device)
                    decode.append((clock() - begin) / 1e6)
            return prefill, decode

        return step
