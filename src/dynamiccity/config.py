"""What every frozen configuration dataclass shares: a dict round trip and overrides that refuse typos."""

from __future__ import annotations

from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

C = TypeVar("C", bound="StrictConfig")


class StrictConfig:
    """Mixin for frozen config dataclasses. Unknown keys are errors; lists (from YAML/JSON) become tuples."""

    label: ClassVar[str] = "config"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        return cls(**cls._checked(data))

    def with_overrides(self: C, **overrides: Any) -> C:
        return replace(self, **self._checked(overrides))

    @classmethod
    def _checked(cls, data: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown {cls.label} key {unknown[0]!r}.")
        return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}


class YamlRunFile:
    """Mixin for run configs (with `to_dict`/`from_dict`): RUN_DIR/config.yaml written atomically and read back."""

    def save(self, path: str | Path) -> None:
        import yaml

        from dynamiccity.atomic import write_text

        write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load(cls, path: str | Path):
        import yaml

        return cls.from_dict(yaml.safe_load(Path(path).read_text()))
