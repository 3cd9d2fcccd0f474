"""Keys of the original collector's ``config.yaml``, accepted unchanged (pure: no I/O).

Users of the original collector (``pred_market_src/collector``; its README is
``docs/migrating.md``'s starting point) switch over with their ``config.yaml`` as it is. Every key it
accepted, in any of its shipped versions, either

- **moved**: it has a new home here; its value is read there, with one warning naming the new key;
- **retired**: it has no meaning here; it is accepted and ignored, with one warning saying why.

Keys that are neither stay errors (with a did-you-mean), so a typo is never silently ignored. The
table below is the only place that knows the original's keys; :func:`translate` applies it before
the configuration is validated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["Moved", "Retired", "LEGACY_KEYS", "Translated", "translate", "legacy_names", "LegacyConfigError"]


class LegacyConfigError(ValueError):
    """An original key and its new home both given: the reader cannot tell which one is meant."""


def _same(value: Any) -> Any:
    return value


def _schedules(value: Any) -> Any:
    """The original's ``time_schedules`` entries defaulted their ``timezone`` to UTC; ours name it."""
    if not isinstance(value, list):
        return value
    return [{"timezone": "UTC", **entry} if isinstance(entry, Mapping) else entry for entry in value]


@dataclass(frozen=True)
class Moved:
    old: str  # dotted key path in the original's config
    new: str  # dotted key path here
    convert: Callable[[Any], Any] = _same

    def warning(self) -> str:
        return (f"config: `{self.old}` (a key of the original collector) is now `{self.new}`; "
                f"read as `{self.new}` (rename it to silence this warning)")


@dataclass(frozen=True)
class Retired:
    old: str
    why: str

    def warning(self) -> str:
        return f"config: `{self.old}` (a key of the original collector) has no meaning here and is ignored: {self.why}"


LEGACY_KEYS: tuple[Moved | Retired, ...] = (
    Moved("weather_stations", "weather.stations"),
    # config.yaml of February 12-17 2026 (before the spike trigger)
    Moved("collection.default_interval_seconds", "collection.interval_seconds"),
    Moved("collection.time_schedules", "collection.interval_overrides", _schedules),
    Retired("collection.baseline_every_n_snapshots",
            "every order-book snapshot this collector writes is the full book (no baseline/delta "
            "compression); old delta rows are rebuilt by ParquetStorage.reconstruct_orderbooks()"),
    Retired("ldm", "the original's LDM weather ingest is not part of this collector "
                   "(`kalshi-collector weather` fetches METAR, ASOS 1-minute and the climate report over HTTP)"),
    Retired("synoptic", "the original's Synoptic listener is not part of this collector"),
    Retired("bot", "the original's paper-trading bot is not part of this collector"),
)


def legacy_names(section: str) -> list[str]:
    """The original's keys directly under ``section`` (dotted; ``""`` = top level), for did-you-mean."""
    prefix = f"{section}." if section else ""
    return [entry.old.removeprefix(prefix) for entry in LEGACY_KEYS
            if entry.old.startswith(prefix) and "." not in entry.old.removeprefix(prefix)]


class Translated(NamedTuple):
    raw: dict[str, Any]
    warnings: list[str]


def translate(raw: Mapping[str, Any]) -> Translated:
    """``raw`` with every original key moved to its new home or removed, and one warning per key found.

    Raises :class:`LegacyConfigError` when a moved key and its new home are both set.
    """
    data = _copy(raw)
    warnings: list[str] = []
    for entry in LEGACY_KEYS:
        parent, leaf = _parent(data, entry.old)
        if parent is None or leaf not in parent:
            continue
        value = parent.pop(leaf)
        warnings.append(entry.warning())
        if isinstance(entry, Retired) or value is None:
            continue
        target, new_leaf = _parent(data, entry.new, create=True)
        if target is None:
            continue  # the new section is not a mapping: validation reports it
        if target.get(new_leaf) is not None:
            raise LegacyConfigError(f"`{entry.old}` and `{entry.new}` are both set; keep `{entry.new}` "
                                    f"and delete `{entry.old}`")
        target[new_leaf] = entry.convert(value)
    return Translated(data, warnings)


def _copy(value: Any) -> Any:
    """A copy of the nested mappings (lists are copied when converted, never changed in place)."""
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _parent(data: dict[str, Any], dotted: str, *, create: bool = False) -> tuple[dict[str, Any] | None, str]:
    """The mapping holding the last part of ``dotted`` (created on the way if asked), and that part."""
    *sections, leaf = dotted.split(".")
    node: Any = data
    for name in sections:
        if create and node.get(name) is None:
            node[name] = {}
        node = node.get(name)
        if not isinstance(node, dict):
            return None, leaf
    return node, leaf
