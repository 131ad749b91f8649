"""What every frozen configuration dataclass shares: a dict round trip and overrides that refuse typos."""

from __future__ import annotations

from dataclasses import asdict, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar, get_args, get_type_hints

C = TypeVar("C", bound="StrictConfig")


class StrictConfig:
    """Mixin for frozen config dataclasses. Unknown keys are errors; lists (from YAML/JSON) become tuples.

    `retired` names keys that older versions wrote and that no longer mean anything: reading an old run's
    config drops them instead of refusing it.
    """

    label: ClassVar[str] = "config"
    retired: ClassVar[frozenset[str]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        return cls(**cls._checked(data))

    def with_overrides(self: C, **overrides: Any) -> C:
        return replace(self, **self._checked(overrides))

    @classmethod
    def _checked(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in _known(cls, data, cls.label).items()}


class YamlRunFile:
    """Mixin for run-config dataclasses whose fields are plain values or config dataclasses.

    The dict form follows the fields (nested configs as dicts); reading it back refuses unknown keys at
    every level and lets missing keys take their defaults. RUN_DIR/config.yaml is that dict, written
    atomically.
    """

    label: ClassVar[str] = "run config"

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        hints = get_type_hints(cls)
        return cls(**{k: _built(hints[k], v) for k, v in _known(cls, data, cls.label).items()})

    def save(self, path: str | Path) -> None:
        import yaml

        from dynamiccity.atomic import write_text

        write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load(cls, path: str | Path):
        import yaml

        return cls.from_dict(yaml.safe_load(Path(path).read_text()))


def numbers_read(value: Any) -> Any:
    """`value` from YAML with the numbers YAML 1.1 leaves as strings ('2e-3') read as floats, in nested
    mappings and lists too."""
    if isinstance(value, dict):
        return {k: numbers_read(v) for k, v in value.items()}
    if isinstance(value, list):
        return [numbers_read(v) for v in value]
    if isinstance(value, str) and any(c.isdigit() for c in value):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def merged(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    """`layer` over `base`: nested mappings merge key by key, any other value replaces."""
    out = dict(base)
    for key, value in layer.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merged(out[key], value) if both else value
    return out


def check_keys(kind: type, data: dict[str, Any], where: str, prefix: str = "") -> None:
    """Refuse a key of `data` (nested mappings too) that names no field of the config dataclass `kind`;
    the error names `where` the mapping came from and the key's dotted path."""
    hints, names = get_type_hints(kind), {f.name for f in fields(kind)}
    for key, value in data.items():
        if key in getattr(kind, "retired", ()):
            continue
        if key not in names:
            raise ValueError(f"{where}: unknown config key {prefix + key!r}.")
        nested = _config_class(hints[key])
        if isinstance(value, dict) and isinstance(nested, type) and is_dataclass(nested):
            check_keys(nested, value, where, f"{prefix}{key}.")


def _known(kind: type, data: dict[str, Any], label: str) -> dict[str, Any]:
    retired = getattr(kind, "retired", frozenset())
    unknown = sorted(set(data) - {f.name for f in fields(kind)} - retired)
    if unknown:
        raise ValueError(f"unknown {label} key {unknown[0]!r}.")
    return {k: v for k, v in data.items() if k not in retired}


def _plain(value: Any) -> Any:
    if isinstance(value, StrictConfig):
        return value.to_dict()
    return asdict(value) if is_dataclass(value) else value


def _config_class(hint: Any) -> Any:
    """The config dataclass of a field typed `X | None` (an optional section), else the hint itself."""
    args = [a for a in get_args(hint) if a is not type(None)]
    optional = type(None) in get_args(hint) and len(args) == 1
    return args[0] if optional and is_dataclass(args[0]) else hint


def _built(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    kind = _config_class(kind)
    if isinstance(kind, type) and issubclass(kind, StrictConfig):
        return kind.from_dict(value)
    if isinstance(kind, type) and is_dataclass(kind):
        return kind(**_known(kind, value, kind.__name__))
    return value
