"""Plain result objects that the library returns and the output sink renders.

They serialise themselves (`to_dict`, snake_case keys) so JSON/CSV output and the Python API agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class TaskRecord:
    id: str
    aliases: list[str]
    name_en: str
    name_zh: str
    modality: str
    description: str
    metrics: list[str]
    architectures: list[str]
    models: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ArchitectureRecord:
    id: str
    name_en: str
    name_zh: str
    modality: str
    attention: str
    objective: str
    suits: str
    families: list[str]
    tasks: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FamilyRecord:
    id: str
    name: str
    architecture: str
    objective: str
    organization: str
    year: int
    model_types: list[str]
    open_weights: bool
    api_only: bool
    models: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReportedMetricRecord:
    task: str | None
    metric: str
    value: float
    scale: str
    dataset: str
    split: str | None
    source: str
    verified: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def display(self) -> str:
        value = f"{self.value:g}{'%' if self.scale == 'percent' else ''}"
        return f"{self.metric} {value} on {self.dataset} [reported: {self.source}]"


@dataclass(frozen=True)
class ModelRecord:
    id: str
    pipeline_tag: str | None
    family: str | None
    architecture: str | None
    params: int | None
    license: str | None
    languages: list[str]
    downloads: int | None
    tasks: list[str] = field(default_factory=list)
    library: str | None = None
    gated: bool = False
    api_only: bool = False
    curated: bool = False
    base_model: str | None = None
    reported: list[ReportedMetricRecord] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TaskDetail:
    task: TaskRecord
    architectures: list[ArchitectureRecord]
    families: list[FamilyRecord]
    top_models: list[ModelRecord]

    def to_dict(self) -> dict[str, Any]:
        data = self.task.to_dict()
        data["suitable_architectures"] = [a.id for a in self.architectures]
        data["suitable_families"] = [f.id for f in self.families]
        data["top_models"] = [m.to_dict() for m in self.top_models]
        return data
