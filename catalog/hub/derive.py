"""Derive the catalog's facts from a Hub record: architecture kind and family, parameters, license, languages,
library, lineage and reported metrics. Each derived fact records how it was derived (provenance)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from catalog.estimate import params_from_config, params_from_name
from catalog.hub.records import HubModel

LIBRARIES = (
    "transformers", "sentence-transformers", "diffusers", "timm", "peft", "gguf", "onnx", "open_clip", "keras",
    "spacy", "flair", "fasttext", "sklearn", "setfit", "adapter-transformers", "span-marker", "mlx", "ctranslate2",
    "speechbrain", "nemo", "espnet", "pyannote-audio", "stable-baselines3", "ml-agents", "transformers.js",
    "gliner", "paddlenlp", "fairseq", "allennlp", "asteroid", "tensorflowtts", "flair", "bertopic",
)  # fmt: skip

AUTO_MODEL_KINDS = {
    "AutoModelForCausalLM": "decoder-only",
    "AutoModelForSeq2SeqLM": "encoder-decoder",
    "AutoModelForSpeechSeq2Seq": "encoder-decoder",
    "AutoModelForMaskedLM": "encoder-only",
}
CLASS_SUFFIX_KINDS = (
    ("ForCausalLM", "decoder-only"),
    ("LMHeadModel", "decoder-only"),
    ("ForMaskedLM", "encoder-only"),
)
_BASE_MODEL_RELATIONS = ("finetune:", "adapter:", "merge:", "quantized:")
# The largest published models have ~2e12 parameters; an estimate above 1e14 says the config or name is wrong.
MAX_ESTIMATED_PARAMS = 10**14
# timm checkpoints carry no model_type; their name starts with the network's name.
TIMM_PREFIXES = {
    "convolutional": (
        "resnet", "resnext", "resnetv2", "resnetrs", "seresnet", "seresnext", "ecaresnet", "wide", "res2net",
        "resnest", "skresnet", "convnext", "convnextv2", "efficientnet", "efficientnetv2", "tf", "mobilenetv1",
        "mobilenetv2", "mobilenetv3", "mobilenetv4", "mnasnet", "fbnetc", "fbnetv3", "regnetx", "regnety", "regnetz",
        "densenet", "inception", "xception", "pnasnet", "nasnet", "vgg", "dpn", "ghostnet", "ghostnetv2", "mixnet",
        "hrnet", "repvgg", "repvit", "rexnet", "dla", "cspdarknet", "cspresnet", "cspresnext", "darknet", "selecsls",
        "tinynet", "lcnet", "hardcorenas", "gernet", "convmixer", "legacy", "gluon", "senet", "nfnet", "dm",
        "eca", "spnasnet", "semnasnet", "bat", "botnet", "lambda", "halonet", "sebotnet", "resnetaa", "inception",
    ),
    "vision-transformer": (
        "vit", "deit", "deit3", "beit", "beitv2", "swin", "swinv2", "eva", "eva02", "cait", "xcit", "pit", "tnt",
        "crossvit", "mvitv2", "twins", "convit", "volo", "samvit", "hiera", "flexivit", "davit", "gcvit", "nest",
        "levit", "maxvit", "maxxvit", "coat", "coatnet", "efficientvit", "fastvit", "vitamin", "sequencer2d",
    ),
}  # fmt: skip
_TIMM_KIND = {prefix: kind for kind, prefixes in TIMM_PREFIXES.items() for prefix in prefixes}


@dataclass(frozen=True)
class TypeInfo:
    architecture: str
    family: str | None


@dataclass
class DerivedModel:
    """Column values for the models table, plus the child rows and where each fact came from."""

    values: dict[str, Any]
    tasks: list[str]
    languages: list[str]
    reported: list[dict[str, Any]]
    provenance: dict[str, str] = field(default_factory=dict)
    eval_results: list[dict[str, Any]] = field(default_factory=list)  # the Hub's evalResults, stored as evidence

    @property
    def architecture_derived(self) -> bool:
        return self.values.get("architecture_id") is not None


@lru_cache(maxsize=1)
def _language_codes() -> frozenset[str]:
    import yaml

    from catalog import settings

    data = yaml.safe_load(settings.data_path("languages.yaml").read_text(encoding="utf-8"))
    codes = set(data["languages"]) | set((data.get("extra") or {}).keys())
    return frozenset(str(c).lower() for c in codes)


@lru_cache(maxsize=1)
def _data_model_types() -> dict[str, TypeInfo]:
    import yaml

    from catalog import settings

    data = yaml.safe_load(settings.data_path("model_types.yaml").read_text(encoding="utf-8"))
    return {
        str(name): TypeInfo(architecture=entry["architecture"], family=entry.get("family"))
        for name, entry in (data.get("model_types") or {}).items()
    }


class Deriver:
    """Holds the mapping tables (catalog.yaml families first, then data/model_types.yaml)."""

    def __init__(
        self,
        family_types: dict[str, tuple[str, str]],
        known_architectures: set[str],
        known_families: set[str] | None = None,
    ) -> None:
        # family_types: model_type -> (family id, architecture id), from the database's taxonomy.
        families = known_families if known_families is not None else {f for f, _ in family_types.values()}
        self.types: dict[str, TypeInfo] = {}
        for name, info in _data_model_types().items():
            if info.architecture in known_architectures:
                family = info.family if info.family in families else None
                self.types[name] = TypeInfo(architecture=info.architecture, family=family)
        for name, (family, architecture) in family_types.items():
            self.types[name] = TypeInfo(architecture=architecture, family=family)
        self.language_codes = _language_codes()

    @classmethod
    def from_session(cls, session: Any) -> Deriver:
        from sqlalchemy import select

        from catalog.db.models import Architecture, Family, FamilyModelType

        rows = session.execute(
            select(FamilyModelType.model_type, Family.id, Family.architecture_id).join(
                Family, Family.id == FamilyModelType.family_id
            )
        ).all()
        return cls(
            {r[0]: (r[1], r[2]) for r in rows},
            set(session.scalars(select(Architecture.id))),
            set(session.scalars(select(Family.id))),
        )

    # ------------------------------------------------------------------------------------------------------
    def _model_type(self, record: HubModel) -> tuple[str | None, str]:
        model_type = record.config.get("model_type")
        if isinstance(model_type, str) and model_type:
            return model_type, "config.model_type"
        matches = [i for i, tag in enumerate(record.tags) if tag in self.types]
        if not matches:
            return None, ""
        # Some model_types are also language codes or keywords ('new', 'phi', 'led'): the Hub lists the model_type
        # right before the pipeline tag, so prefer that one, then any match that is not a language code.
        if record.pipeline_tag and record.pipeline_tag in record.tags:
            before = record.tags.index(record.pipeline_tag) - 1
            if before in matches:
                return record.tags[before], "model_type tag"
        for i in matches:
            if record.tags[i].lower() not in self.language_codes:
                return record.tags[i], "model_type tag"
        return record.tags[matches[0]], "model_type tag"

    def architecture(self, record: HubModel) -> tuple[str | None, str | None, str | None, str]:
        """(model_type, family, architecture, how)."""
        model_type, how = self._model_type(record)
        if model_type and model_type in self.types:
            info = self.types[model_type]
            return model_type, info.family, info.architecture, f"derived from {how} '{model_type}'"
        if "gguf" in record.tags and record.pipeline_tag == "text-generation":
            return model_type, None, "decoder-only", "derived from the GGUF format of a text-generation model"
        if record.library_name == "timm" or "timm" in record.tags:
            name = record.id.rsplit("/", 1)[-1].lower()
            prefix = re.split(r"[_.\-]", name, maxsplit=1)[0]
            for candidate in (prefix, prefix.rstrip("0123456789")):
                if candidate in _TIMM_KIND:
                    return model_type, None, _TIMM_KIND[candidate], f"derived from the timm network name '{candidate}'"
        auto_model = record.transformers_info.get("auto_model")
        if isinstance(auto_model, str) and auto_model in AUTO_MODEL_KINDS:
            return (
                model_type,
                None,
                AUTO_MODEL_KINDS[auto_model],
                f"derived from transformersInfo.auto_model {auto_model}",
            )
        classes = record.config.get("architectures")
        if isinstance(classes, list):
            for name in classes:
                for suffix, kind in CLASS_SUFFIX_KINDS:
                    if isinstance(name, str) and name.endswith(suffix):
                        return model_type, None, kind, f"derived from config.architectures {name}"
        return model_type, None, None, ""

    def license(self, record: HubModel) -> tuple[str | None, str]:
        value = record.card_data.get("license")
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value.strip():
            return value.strip().lower(), "Hub cardData.license"
        for tag in record.tags:
            if tag.startswith("license:"):
                return tag.split(":", 1)[1].strip().lower() or None, "Hub license tag"
        return None, ""

    def languages(self, record: HubModel) -> tuple[list[str], str]:
        value = record.card_data.get("language")
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        codes = [v.strip().lower() for v in values if isinstance(v, str) and v.strip()]
        if codes:
            return list(dict.fromkeys(c for c in codes if len(c) <= 32)), "Hub cardData.language"
        tagged = [t.lower() for t in record.tags if t.lower() in self.language_codes]
        return list(dict.fromkeys(tagged)), "Hub language tags" if tagged else ""

    def library(self, record: HubModel) -> str | None:
        if record.library_name:
            return record.library_name
        for tag in record.tags:
            if tag in LIBRARIES:
                return tag
        return None

    @staticmethod
    def base_model(record: HubModel) -> str | None:
        candidates = []
        for tag in record.tags:
            if tag.startswith("base_model:"):
                rest = tag[len("base_model:") :]
                for relation in _BASE_MODEL_RELATIONS:
                    if rest.startswith(relation):
                        rest = rest[len(relation) :]
                        break
                candidates.append(rest)
        if not candidates:
            value = record.card_data.get("base_model")
            if isinstance(value, str):
                candidates.append(value)
            elif isinstance(value, list) and value and isinstance(value[0], str):
                candidates.append(value[0])
        return candidates[0][:255] if candidates else None

    @staticmethod
    def params(record: HubModel) -> tuple[int | None, str]:
        """The reported count, else an estimate; an estimate beyond any real model (a legal repo name such as
        'llama-99999999999b', a config with absurd shapes) is not derived at all."""
        if record.safetensors_total:
            return record.safetensors_total, "reported: Hub safetensors total"
        estimate = params_from_config(record.config) if record.config else None
        if estimate and estimate <= MAX_ESTIMATED_PARAMS:
            return estimate, "estimated from config (layer shapes)"
        estimate = params_from_name(record.id)
        if estimate and estimate <= MAX_ESTIMATED_PARAMS:
            return estimate, "estimated from the model name"
        return None, ""

    @staticmethod
    def reported(record: HubModel) -> list[dict[str, Any]]:
        metrics: list[dict[str, Any]] = []
        for entry in record.model_index:
            results = entry.get("results")
            if not isinstance(results, list):
                continue
            for result in results:
                if not isinstance(result, dict):
                    continue
                task: dict[str, Any] = result["task"] if isinstance(result.get("task"), dict) else {}
                dataset: dict[str, Any] = result["dataset"] if isinstance(result.get("dataset"), dict) else {}
                for metric in result.get("metrics") or []:
                    if not isinstance(metric, dict):
                        continue
                    value = metric.get("value")
                    if isinstance(value, str):
                        try:
                            value = float(value.strip().rstrip("%"))
                        except ValueError:
                            continue
                    if not isinstance(value, int | float) or isinstance(value, bool):
                        continue
                    try:
                        value = float(value)
                    except OverflowError:  # an integer beyond float range
                        continue
                    if not math.isfinite(value):
                        continue  # NaN or infinite: no score (SQLite would store NULL in a NOT NULL column)
                    name = metric.get("type") or metric.get("name")
                    if not isinstance(name, str):
                        continue
                    metrics.append(
                        {
                            "task_id": task["type"][:64] if isinstance(task.get("type"), str) else None,
                            "metric": re.sub(r"\s+", "-", name.strip().lower())[:64],
                            "value": value,
                            "scale": "raw",
                            "dataset": str(dataset.get("name") or dataset.get("type") or "unknown")[:255],
                            "split": str(dataset["split"])[:64] if dataset.get("split") else None,
                            "source": "Hub model-index (model card metadata)",
                            "verified": bool(metric.get("verified", False)),
                        }
                    )
        return metrics[:50]

    def derive(self, record: HubModel, synced_at: Any) -> DerivedModel:
        model_type, family, architecture, arch_how = self.architecture(record)
        license_id, license_how = self.license(record)
        languages, languages_how = self.languages(record)
        params, params_how = self.params(record)
        provenance: dict[str, str] = {"downloads": "reported: Hub downloads (30 days) at sync time"}
        if arch_how:
            provenance["architecture"] = arch_how
            if family:
                provenance["family"] = arch_how
        if license_how:
            provenance["license"] = license_how
        if languages_how:
            provenance["languages"] = languages_how
        if params_how:
            provenance["params"] = params_how
        tasks = [record.pipeline_tag] if record.pipeline_tag else []
        values = {
            "id": record.id,
            "pipeline_tag": record.pipeline_tag,
            "family_id": family,
            "architecture_id": architecture,
            "model_type": model_type[:64] if model_type else None,
            "params": params,
            "license": license_id[:64] if license_id else None,
            "library": (self.library(record) or "")[:64] or None,
            "gated": record.gated,
            "api_only": False,
            "downloads": record.downloads,
            "likes": record.likes,
            "base_model": self.base_model(record),
            "hub_last_modified": record.last_modified,
            "hub_created_at": record.created_at,
            "synced_at": synced_at,
            "author": record.author[:128] if record.author else None,
            "sha": record.sha[:64] if record.sha else None,
            "tags": list(record.tags),
            "hub_digest": record.digest(),
        }
        return DerivedModel(
            values=values, tasks=tasks, languages=languages, reported=self.reported(record), provenance=provenance,
            eval_results=record.eval_results,
        )  # fmt: skip
