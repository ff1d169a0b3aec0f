"""A backend without torch for isolation tests: the model id says how it behaves (fake:ok, fake:raise, fake:hang,
fake:alloc, fake:crash). Loaded in the worker process by "module:attr"."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from bench.inputs import Shape
from bench.spec import ModelJob


class FakeBackend:
    name = "fake"

    def __init__(self, job: ModelJob, **_: Any) -> None:
        self.job = job
        self.behaviour = job.model_id.split(":", 1)[1].rstrip("0123456789")
        self.config: dict[str, Any] = {"model_type": "fake"}
        self.generates = False
        self._ballast: list[bytearray] = []

    @staticmethod
    def prepare_runtime(threads: int | None) -> dict[str, Any]:
        return {"fake_backend": True}

    def load(self) -> None:
        if self.behaviour == "raise":
            raise RuntimeError("broken checkpoint: tensor 'encoder.weight' is missing")
        if self.behaviour == "hang":
            time.sleep(3600)
        if self.behaviour == "alloc":
            while True:  # grows until the memory guard stops the process
                block = bytearray(32 * 2**20)
                block[::4096] = b"x" * len(block[::4096])
                self._ballast.append(block)
                time.sleep(0.005)
        if self.behaviour == "crash":
            os._exit(3)

    def inputs(self, shape: Shape, **_: Any) -> dict[str, Any]:
        return {"n": 2000 * shape.batch_size}

    def forward_step(self, inputs: dict[str, Any]) -> Callable[[], Any]:
        n = inputs["n"]

        def step() -> int:
            return sum(i * i for i in range(n))

        return step
