"""What the user asks for: hard constraints and service targets, validated once, constructible from Python or CLI."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from catalog.errors import UsageError

LicenseClass = Literal["permissive", "commercial-ok"]
DTYPE_BYTES: dict[str, float] = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "int4": 0.5}
MEMORY_OVERHEAD = 0.20  # activations, runtime and allocator slack on top of the weights (stated in every estimate)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*([kmbtg]?)(i?b?)\s*$", re.IGNORECASE)
_COUNT_UNITS = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_BYTE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "b": 1024**3, "t": 1024**4}
MAX_PARAMS = 10**15  # a thousand times the largest model there is: anything above is a typo
MAX_BYTES = 2**60  # an exbibyte


def _finite(value: float, option: str, text: object, limit: float, what: str) -> float:
    if not math.isfinite(value) or value > limit:
        raise UsageError(f"{option} {str(text)[:24]} is too large: give {what} up to {limit:.0e}.")
    if value <= 0:
        raise UsageError(f"{option} must be positive, not {text!r}.")
    if value < 1:  # 0.5 bytes or parameters would round to 0, which means "no limit"
        raise UsageError(f"{option} {text!r} is less than one: give {what} of at least 1.")
    return value


def parse_count(text: str | int | float, option: str = "--max-params") -> int:
    """'50M' -> 50_000_000, '1.5B' -> 1_500_000_000, '7e9' or a plain number as is. A memory size ('500MB',
    '8GiB') is refused: it is not a number of parameters."""
    if isinstance(text, bool):
        raise UsageError(f"{option} {text!r} is not a count: use e.g. 50M, 1.5B or 1000000.")
    if isinstance(text, int | float):
        value = float(text) if not isinstance(text, int) or abs(text) <= MAX_PARAMS else math.inf
    else:
        match = _SIZE.match(str(text))
        if match and match.group(3) and not (match.group(3).lower() == "b" and not match.group(2)):
            raise UsageError(
                f"{option} {text!r} is a memory size, not a number of parameters: use --max-memory {text} for "
                "memory, or a count such as 500M."
            )
        if not match or match.group(2).lower() not in _COUNT_UNITS:
            raise UsageError(f"{option} {str(text)[:40]!r} is not a count: use e.g. 50M, 1.5B or 1000000.")
        value = float(match.group(1)) * _COUNT_UNITS[match.group(2).lower()]
    return int(_finite(value, option, text, MAX_PARAMS, "a count"))


def parse_bytes(text: str | int | float, option: str = "--max-memory") -> int:
    """'8GB', '512M', '1.5G' (binary units) or a plain number of bytes."""
    if isinstance(text, bool):
        raise UsageError(f"{option} {text!r} is not a size: use e.g. 512MB, 8GB or 16G.")
    if isinstance(text, int | float):
        value = float(text) if not isinstance(text, int) or abs(text) <= MAX_BYTES else math.inf
    else:
        match = _SIZE.match(str(text))
        if not match:
            raise UsageError(f"{option} {str(text)[:40]!r} is not a size: use e.g. 512MB, 8GB or 16G.")
        value = float(match.group(1)) * _BYTE_UNITS[match.group(2).lower()]
    return int(_finite(value, option, text, MAX_BYTES, "a size"))


@lru_cache(maxsize=1)
def license_classes() -> dict[str, frozenset[str]]:
    from catalog import settings

    data = settings.load_data_yaml("licenses.yaml")
    permissive = frozenset(data["permissive"])
    return {
        "permissive": permissive,
        "commercial-ok": permissive | frozenset(data["commercial_ok"]),
        "not-commercial": frozenset(data["not_commercial"]),
        "unknown": frozenset(data["unknown"]),
    }


def license_known(license_id: str | None) -> bool:
    if not license_id:
        return False
    classes = license_classes()
    return license_id in classes["commercial-ok"] or license_id in classes["not-commercial"]


@dataclass
class Constraints:
    """Everything `catalog recommend` filters on. Sizes are parsed, names are resolved later against the DB."""

    task: str
    licenses: tuple[str, ...] = ()
    license_class: LicenseClass | None = None
    languages: tuple[str, ...] = ()
    max_params: int | None = None
    max_memory_bytes: int | None = None
    fits: bool = False
    dtype: str = "float32"
    architecture: str | None = None
    family: str | None = None
    library: str | None = None
    include_gated: bool = False
    include_api: bool = False
    max_latency_ms: float | None = None
    batch_size: int = 1
    seq_len: int = 128
    device: str | None = None  # measured latency/memory only from runs on this device (None: any)
    min_accuracy: float | None = None
    machine_memory_bytes: int | None = field(default=None, repr=False)  # --fits: filled from the hardware probe

    def __post_init__(self) -> None:
        if isinstance(self.licenses, str):
            self.licenses = (self.licenses,)
        if isinstance(self.languages, str):
            self.languages = (self.languages,)
        self.licenses = tuple(dict.fromkeys(x.strip().lower() for x in self.licenses if x.strip()))
        self.languages = tuple(dict.fromkeys(x.strip().lower() for x in self.languages if x.strip()))
        if self.license_class not in (None, "permissive", "commercial-ok"):
            raise UsageError(f"Unknown license class {self.license_class!r}: use permissive or commercial-ok.")
        if self.dtype not in DTYPE_BYTES:
            raise UsageError(f"Unknown dtype {self.dtype!r}: use one of {', '.join(DTYPE_BYTES)}.")
        if self.max_params is not None:
            self.max_params = parse_count(self.max_params)
        if self.max_memory_bytes is not None:
            self.max_memory_bytes = parse_bytes(self.max_memory_bytes)
        if self.max_latency_ms is not None and (not math.isfinite(self.max_latency_ms) or self.max_latency_ms <= 0):
            raise UsageError(f"--max-latency-ms must be a finite positive number, not {self.max_latency_ms}.")
        if self.batch_size < 1 or self.seq_len < 1:
            raise UsageError("--batch-size and --seq-len must be at least 1.")
        if self.min_accuracy is not None:
            if not math.isfinite(self.min_accuracy) or self.min_accuracy < 0 or self.min_accuracy > 100:
                raise UsageError(f"--min-accuracy must be a fraction (0.9) or a percent (90), not {self.min_accuracy}.")
            if self.min_accuracy > 1:
                self.min_accuracy = self.min_accuracy / 100.0

    @property
    def memory_factor(self) -> float:
        """Bytes of memory per parameter: weights at the dtype plus the stated overhead."""
        return DTYPE_BYTES[self.dtype] * (1 + MEMORY_OVERHEAD)

    def memory_limit(self) -> int | None:
        limits = [x for x in (self.max_memory_bytes, self.machine_memory_bytes if self.fits else None) if x]
        return min(limits) if limits else None

    def describe(self) -> list[str]:
        """The options as the user would type them, for messages."""
        parts = []
        if self.licenses:
            parts.append("--license " + ",".join(self.licenses))
        if self.license_class:
            parts.append(f"--{self.license_class}")
        for language in self.languages:
            parts.append(f"--language {language}")
        if self.max_params:
            parts.append(f"--max-params {self.max_params:,}")
        if self.max_memory_bytes:
            parts.append(f"--max-memory {self.max_memory_bytes / 2**30:.1f}GiB")
        if self.fits:
            parts.append("--fits")
        for name in ("architecture", "family", "library"):
            if getattr(self, name):
                parts.append(f"--{name} {getattr(self, name)}")
        if self.max_latency_ms:
            parts.append(f"--max-latency-ms {self.max_latency_ms:g}")
        if self.min_accuracy is not None:
            parts.append(f"--min-accuracy {self.min_accuracy:g}")
        return parts
