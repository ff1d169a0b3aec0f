"""Load and validate catalog.yaml, the curated taxonomy.

The file is data reviewed like code: a typed schema checks it, cross-references are resolved, and a bad file is
reported with the file, the path inside it and what was expected.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from catalog.errors import TaxonomyError

Modality = Literal["text", "vision", "audio", "multimodal"]
_ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
# Bounds that keep every value inside its database column (catalog.db.schema): a bad file is a taxonomy error
# naming the entry, never a database error. Numbers are strict: `params: true` or `params: "7"` are refused.
ID_MAX = 64  # String(64) ids, aliases, model types
NAME_MAX = 200  # String(200) names
MODEL_ID_MAX = 255  # String(255) model ids and base models
INT32_MAX = 2**31 - 1  # Integer columns
PARAMS_MAX = 10**15  # a thousand times the largest model there is
DOWNLOADS_MAX = 2**63 - 1  # BigInteger
METRIC_VALUE_MAX = 1e12  # reported metric values (percent, fraction or raw such as perplexity)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ArchitectureSpec(_Strict):
    id: str = Field(pattern=_ID_PATTERN, max_length=ID_MAX)
    name_en: str = Field(min_length=1, max_length=NAME_MAX)
    name_zh: str = Field(min_length=1, max_length=NAME_MAX)
    modality: Modality
    attention: str = Field(min_length=1)
    objective: str = Field(min_length=1)
    suits: str = Field(min_length=1)
    description: str = ""


class BenchmarkProtocol(_Strict):
    """What makes two results on the same data comparable: shots and the prompt / scoring variant."""

    n_shot: int | None = Field(default=None, ge=0)
    variant: str | None = None


class BenchmarkComponent(_Strict):
    """One member of an aggregate benchmark (e.g. one MTEB task): a model counts for the aggregate only with all."""

    dataset: str = Field(min_length=1)
    config: str | None = None
    split: str | None = None
    metric: str = Field(min_length=1)


class BenchmarkSpec(_Strict):
    """A benchmark that defines quality for a task. Evidence matches it when its dataset is one of `datasets`
    (case-insensitive), its config equals `config` (when set), its split is one of `splits` (empty: any), its
    canonical metric is `metric` and its protocol matches (catalog/evidence/benchmarks.py holds the rule). A row
    that names no split is taken, marked "split not stated" unless "unstated" is among `splits` (the benchmark says
    what such a figure is). An aggregate lists its components instead."""

    id: str = Field(pattern=_ID_PATTERN)
    name: str = Field(min_length=1, max_length=24, description="short display label, e.g. CoNLL-03")
    datasets: tuple[str, ...] = ()
    config: str | None = None
    splits: tuple[str, ...] = ()
    metric: str = Field(min_length=1, description="canonical metric name (data/metrics.yaml)")
    protocol: BenchmarkProtocol | None = None
    weight: float = Field(default=1.0, gt=0)
    aggregate: tuple[BenchmarkComponent, ...] = ()
    by_language: bool = Field(
        default=False,
        description="the dataset's config names a language (fr, fr_fr): results compare one language at a time, "
        "and count only for the languages asked for with --language",
    )
    description: str = ""

    @model_validator(mode="after")
    def _has_data(self) -> BenchmarkSpec:
        if not self.datasets and not self.aggregate:
            raise ValueError(f"benchmark {self.id!r} names no datasets and no aggregate components")
        if self.by_language and (self.config or self.aggregate or any(":" in d for d in self.datasets)):
            raise ValueError(f"benchmark {self.id!r} is by_language: its datasets' config is the language, so it "
                             "names no config and no aggregate")  # fmt: skip
        return self


class TaskSpec(_Strict):
    id: str = Field(pattern=_ID_PATTERN, max_length=ID_MAX, description="Hugging Face pipeline tag")
    name_en: str = Field(min_length=1, max_length=NAME_MAX)
    name_zh: str = Field(min_length=1, max_length=NAME_MAX)
    modality: Modality
    description: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    metrics: tuple[str, ...] = Field(min_length=1)
    architectures: tuple[str, ...] = Field(min_length=1)
    benchmarks: tuple[BenchmarkSpec, ...] = ()

    @field_validator("benchmarks")
    @classmethod
    def _benchmarks_use_known_metrics(cls, value: tuple[BenchmarkSpec, ...]) -> tuple[BenchmarkSpec, ...]:
        from catalog.evidence.registry import registry

        known = registry().metrics
        seen: set[str] = set()
        for bench in value:
            if bench.id in seen:
                raise ValueError(f"duplicate benchmark id {bench.id!r}")
            seen.add(bench.id)
            for name in (bench.metric, *(c.metric for c in bench.aggregate)):
                if name not in known:
                    raise ValueError(f"benchmark {bench.id!r}: {name!r} is not a canonical metric in data/metrics.yaml")
        return value

    @field_validator("aliases")
    @classmethod
    def _aliases_are_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for alias in value:
            if alias != alias.lower() or " " in alias or not alias:
                raise ValueError(f"alias {alias!r} must be lowercase with no spaces")
            if len(alias) > ID_MAX:
                raise ValueError(f"alias {alias[:20]!r}... is longer than {ID_MAX} characters")
        return value


class FamilySpec(_Strict):
    id: str = Field(pattern=_ID_PATTERN, max_length=ID_MAX)
    name: str = Field(min_length=1, max_length=NAME_MAX)
    architecture: str
    objective: str = Field(min_length=1)
    organization: str = Field(min_length=1, max_length=NAME_MAX)
    year: StrictInt = Field(ge=1990, le=2100)
    model_types: tuple[str, ...] = ()
    open_weights: StrictBool
    api_only: StrictBool = False
    description: str = ""

    @field_validator("model_types")
    @classmethod
    def _model_types_fit(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for model_type in value:
            if not model_type or len(model_type) > ID_MAX:
                raise ValueError(f"model type {model_type[:20]!r} must have 1 to {ID_MAX} characters")
        return value


class ReportedMetricSpec(_Strict):
    metric: str = Field(min_length=1, max_length=ID_MAX)
    value: StrictFloat = Field(allow_inf_nan=False, ge=-METRIC_VALUE_MAX, le=METRIC_VALUE_MAX)
    dataset: str = Field(min_length=1, max_length=MODEL_ID_MAX)
    split: str | None = Field(default=None, max_length=ID_MAX)
    source: str = Field(min_length=1)
    verified: StrictBool = False
    scale: Literal["percent", "fraction", "raw"] = "raw"
    task: str | None = None


class ModelSpec(_Strict):
    id: str = Field(min_length=3, max_length=MODEL_ID_MAX, pattern=r"^[\w.\-]+/[\w.\-]+$")
    family: str
    tasks: tuple[str, ...] = Field(min_length=1)
    params: StrictInt | None = Field(default=None, gt=0, le=PARAMS_MAX)
    params_source: str | None = None
    params_verified: StrictBool = False
    license: str = Field(default="unknown", max_length=ID_MAX)
    languages: tuple[str, ...] = ()
    library: str | None = Field(default=None, max_length=ID_MAX)
    gated: StrictBool = False
    api_only: StrictBool = False
    downloads: StrictInt | None = Field(default=None, ge=0, le=DOWNLOADS_MAX)
    downloads_as_of: str | None = None
    base_model: str | None = Field(default=None, max_length=MODEL_ID_MAX)
    context_length: StrictInt | None = Field(default=None, gt=0, le=INT32_MAX)
    reported: tuple[ReportedMetricSpec, ...] = ()
    description: str = ""

    @model_validator(mode="after")
    def _params_have_a_source(self) -> ModelSpec:
        if self.params is not None and not self.params_source:
            raise ValueError("params is given without params_source (say where the count comes from)")
        if self.downloads is not None and not self.downloads_as_of:
            raise ValueError("downloads is given without downloads_as_of")
        for code in self.languages:
            if not code or len(code) > 32:
                raise ValueError(f"language {code[:20]!r} must be a code of 1 to 32 characters")
        return self


class Taxonomy(_Strict):
    version: Literal[1]
    architectures: tuple[ArchitectureSpec, ...] = Field(min_length=1)
    tasks: tuple[TaskSpec, ...] = Field(min_length=1)
    families: tuple[FamilySpec, ...] = Field(min_length=1)
    models: tuple[ModelSpec, ...] = ()

    @model_validator(mode="after")
    def _references_resolve(self) -> Taxonomy:
        problems: list[str] = []

        def unique(kind: str, ids: list[str]) -> set[str]:
            seen: set[str] = set()
            for index, item in enumerate(ids):
                if item in seen:
                    problems.append(f"{kind}[{index}].id: duplicate id {item!r}")
                seen.add(item)
            return seen

        arch_ids = unique("architectures", [a.id for a in self.architectures])
        task_ids = unique("tasks", [t.id for t in self.tasks])
        family_ids = unique("families", [f.id for f in self.families])
        unique("models", [m.id for m in self.models])

        alias_owner: dict[str, str] = {}

        def repeated(where: str, kind: str, values: tuple[str, ...]) -> None:
            # a list the database stores as rows keyed by (owner, value): a repeat would be a key clash
            seen: set[str] = set()
            for value in values:
                if value in seen:
                    problems.append(f"{where}: duplicate {kind} {value!r}")
                seen.add(value)

        for index, task in enumerate(self.tasks):
            repeated(f"tasks[{index}] ({task.id}).architectures", "architecture", task.architectures)
            repeated(f"tasks[{index}] ({task.id}).aliases", "alias", task.aliases)
            for arch in task.architectures:
                if arch not in arch_ids:
                    problems.append(f"tasks[{index}] ({task.id}).architectures: unknown architecture {arch!r}")
            for alias in task.aliases:
                if alias in task_ids:
                    problems.append(f"tasks[{index}] ({task.id}).aliases: {alias!r} is already a task id")
                elif alias in alias_owner and alias_owner[alias] != task.id:
                    problems.append(
                        f"tasks[{index}] ({task.id}).aliases: {alias!r} is already an alias of {alias_owner[alias]}"
                    )
                alias_owner[alias] = task.id

        type_owner: dict[str, str] = {}
        for index, family in enumerate(self.families):
            repeated(f"families[{index}] ({family.id}).model_types", "model type", family.model_types)
            if family.architecture not in arch_ids:
                problems.append(
                    f"families[{index}] ({family.id}).architecture: unknown architecture {family.architecture!r}"
                )
            for model_type in family.model_types:
                if model_type in type_owner and type_owner[model_type] != family.id:
                    problems.append(
                        f"families[{index}] ({family.id}).model_types: {model_type!r} already belongs to "
                        f"{type_owner[model_type]}"
                    )
                type_owner[model_type] = family.id

        for index, model in enumerate(self.models):
            repeated(f"models[{index}] ({model.id}).tasks", "task", model.tasks)
            if model.family not in family_ids:
                problems.append(f"models[{index}] ({model.id}).family: unknown family {model.family!r}")
            for model_task in model.tasks:
                if model_task not in task_ids:
                    problems.append(f"models[{index}] ({model.id}).tasks: unknown task {model_task!r}")
            for m_index, metric in enumerate(model.reported):
                if metric.task is not None and metric.task not in model.tasks:
                    problems.append(
                        f"models[{index}] ({model.id}).reported[{m_index}].task: {metric.task!r} is not one of "
                        "the model's tasks"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # Convenience look-ups used by the seeder and tests.
    def task(self, task_id: str) -> TaskSpec:
        return next(t for t in self.tasks if t.id == task_id)

    def family(self, family_id: str) -> FamilySpec:
        return next(f for f in self.families if f.id == family_id)

    def alias_map(self) -> dict[str, str]:
        """Every accepted spelling (ids and aliases) -> task id."""
        names = {t.id: t.id for t in self.tasks}
        for task in self.tasks:
            for alias in task.aliases:
                names[alias] = task.id
        return names


def file_digest(path: Path) -> str:
    """sha256 of the file's bytes: cheap enough to check on every start, so parsing happens only on change."""
    from catalog import settings

    return hashlib.sha256(settings.read_taxonomy_file(path)).hexdigest()


def _location(loc: tuple[int | str, ...], data: object) -> str:
    """Render a pydantic location as a readable path, naming items by their id where they have one."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int):
            label = f"[{key}]"
            if isinstance(node, list) and key < len(node):
                node = node[key]
                if isinstance(node, dict) and "id" in node:
                    label += f" ({node['id']})"
            parts.append(label)
        else:
            if isinstance(node, dict):
                node = node.get(key)
            parts.append(("." if parts else "") + str(key))
    return "".join(parts) or "(top level)"


class _Loader(yaml.SafeLoader):
    """YAML without aliases: catalog.yaml needs none, and nested aliases ("billion laughs") would expand into
    ~10^9 nodes during validation."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a taxonomy file", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        """A key given twice in one mapping is an error (PyYAML would keep the last one silently)."""
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} in one entry", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_taxonomy(text: str, source: str = "catalog.yaml") -> Taxonomy:
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except RecursionError:
        raise TaxonomyError(f"{source}: nested too deeply to be a taxonomy. Fix the file and retry.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise TaxonomyError(f"{source}:{where}: invalid YAML ({problem}). Fix the file and retry.") from exc
    if not isinstance(data, dict):
        raise TaxonomyError(
            f"{source}: expected a mapping with keys version, architectures, tasks, families, models; "
            f"got {type(data).__name__}."
        )
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _location(tuple(first["loc"]), data)
        message = first["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        more = len(exc.errors()) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise TaxonomyError(f"{source}: at {where}: {message}{tail}. Fix the file and retry.") from exc


def parse_taxonomy_bytes(data: bytes, source: str = "catalog.yaml") -> Taxonomy:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TaxonomyError(f"{source}: not UTF-8 text ({exc.reason}). Save it as UTF-8.") from exc
    return parse_taxonomy(text, source)


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    from catalog import settings

    path = path or settings.taxonomy_path()
    return parse_taxonomy_bytes(settings.read_taxonomy_file(path), str(path))
