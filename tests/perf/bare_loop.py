"""The bare timing loop the harness is compared with, as an engineer would write it in a script of their own: build
the model once per dtype, warm up, time a loop under `torch.inference_mode()`, take the median.

It runs in a fresh process of its own (like each `catalog bench run` model), not inside pytest, whose process
carries hundreds of earlier tests' objects and threads. Protocol: the config path is the first argument; each
stdin line "BATCH SEQ DTYPE" is answered with one stdout line, the p50 in milliseconds; the first line printed is
"ready THREADS" once torch and transformers are imported.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

BARE_ITERATIONS = {1: 20, 8: 10}
WARMUP = 3


def main(config_path: str) -> None:
    import torch
    import transformers
    from transformers.initialization import no_init_weights

    from bench.backends.transformers_backend import fill_random
    from bench.inputs import Shape, make_inputs

    config = transformers.AutoConfig.from_pretrained(config_path)
    models: dict[str, Any] = {}
    print(f"ready {torch.get_num_threads()}", flush=True)
    for line in sys.stdin:
        batch_text, seq_text, dtype_name = line.split()
        batch, seq = int(batch_text), int(seq_text)
        if dtype_name not in models:
            with no_init_weights():
                model = transformers.AutoModel.from_config(config)
            fill_random(model)
            models[dtype_name] = model.to(getattr(torch, dtype_name)).eval()
        model = models[dtype_name]
        inputs = make_inputs("feature-extraction", config.to_dict(), Shape(batch, seq))
        samples = []
        with torch.inference_mode():
            for _ in range(WARMUP):
                model(**inputs)
            for _ in range(BARE_ITERATIONS.get(batch, 10)):
                start = time.perf_counter_ns()
                model(**inputs)
                samples.append((time.perf_counter_ns() - start) / 1e6)
        print(f"{statistics.median(samples):.4f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
