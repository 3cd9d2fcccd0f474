"""Configuration: one YAML file plus two environment variables, validated once into typed objects.

The YAML keys are the seed's (``kalshi``, ``events``, ``event_series``, ``collection``, ``storage``,
``weather``) kept exactly, plus a few sections of our own (``metrics``, and knobs with defaults).
The original collector's other keys (``weather_stations``, ``baseline_every_n_snapshots``...) are
accepted with one warning each: :mod:`kalshi_collector.config_legacy` maps or retires them.
Every problem is reported as one line that names the key, the bad value and the expected form,
because the person reading it is usually editing a file on a remote VM over SSH.

No other module reads the environment or the YAML: :func:`load_config` builds one :class:`Config`
at start and it is passed down.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import typing
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml

from kalshi_collector.config_legacy import LegacyConfigError, legacy_names, translate

__all__ = [
    "Config",
    "ConfigError",
    "KalshiConfig",
    "CollectionConfig",
    "IntervalOverride",
    "StorageConfig",
    "WeatherConfig",
    "MetricsConfig",
    "load_config",
    "config_from_dict",
    "PROD_REST_URL",
    "PROD_WS_URL",
    "RATE_TIERS",
]

PROD_REST_URL = "https://external-api.kalshi.com/trade-api/v2"
PROD_WS_URL = "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
IEM_URL = "https://mesonet.agron.iastate.edu"
AWC_URL = "https://aviationweather.gov"

# Read-bucket budget in default-cost (10 token) requests per second, and bucket depth in seconds
# (API.md section 8). Basic and Advanced read buckets hold 2 s of budget, higher tiers 1 s.
RATE_TIERS: dict[str, tuple[float, float]] = {
    "basic": (20.0, 2.0),
    "advanced": (30.0, 2.0),
    "expert": (60.0, 1.0),
    "premier": (100.0, 1.0),
    "paragon": (200.0, 1.0),
    "prime": (400.0, 1.0),
    "prestige": (600.0, 1.0),
}

log = logging.getLogger(__name__)

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.\-]*$")

Positive = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]


class ConfigError(ValueError):
    """A configuration problem, already phrased for the person who has to fix it."""


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class KalshiConfig(_Section):
    api_key_id: str | None = None
    private_key_path: str | None = None
    base_url: str = PROD_REST_URL
    ws_url: str = PROD_WS_URL
    # Client-side REST budget. ``rate_tier`` picks Kalshi's published read budget;
    # ``requests_per_second`` overrides it (0 turns client-side limiting off, e.g. for benchmarks).
    rate_tier: Literal["basic", "advanced", "expert", "premier", "paragon", "prime", "prestige"] = "basic"
    requests_per_second: NonNegative | None = None
    request_timeout_seconds: Positive = 30.0
    max_retries: NonNegativeInt = 8
    # `collect` and `backfill` give up (exit 1) when the exchange has not answered for this long at start.
    startup_timeout_seconds: Positive = 120.0

    def __post_init__(self) -> None:
        _check_url(self.base_url, ("http", "https"), "kalshi.base_url", PROD_REST_URL)
        _check_url(self.ws_url, ("ws", "wss"), "kalshi.ws_url", PROD_WS_URL)

    @property
    def rate_limit(self) -> tuple[float, float]:
        """(requests per second, burst seconds); rate 0 means unlimited."""
        rate, burst = RATE_TIERS[self.rate_tier]
        if self.requests_per_second is not None:
            rate = self.requests_per_second
        return rate, burst


class IntervalOverride(_Section):
    start: str
    end: str
    timezone: str
    interval_seconds: Positive

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _HHMM.match(value):
                raise ValueError(f"`{name}` = {value!r}: expected a time of day as \"HH:MM\" (24-hour clock)")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"`timezone` = {self.timezone!r}: expected an IANA time zone name such as \"America/New_York\""
            ) from None

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class CollectionConfig(_Section):
    interval_seconds: Positive = 60.0
    interval_overrides: list[IntervalOverride] = msgspec.field(default_factory=list)
    spike_threshold_cents: NonNegative = 3.0
    spike_cooldown_seconds: NonNegative = 2.0
    max_orderbook_depth: NonNegativeInt = 0
    # How often the open events of each followed series are re-listed over REST.
    discovery_interval_seconds: Positive = 300.0
    # REST cross-check of local books against GET /markets/{ticker}/orderbook: one market per period.
    rest_check_interval_seconds: NonNegative = 30.0
    # A stream that delivers nothing (not even a ping) for this long is treated as dead.
    stall_timeout_seconds: Positive = 30.0
    # Keep the raw tape (raw_ws: every frame as received, every command and decision; raw_rest:
    # discovery and cross-check bodies), from which `kalshi-collector rebuild` regenerates the
    # derived tables. docs/schemas.md says what it costs.
    raw_tape: bool = True
    # Follow the whole exchange: every open market (follow_all), or every open market of the
    # events of these categories (e.g. ["Sports", "Crypto"]), besides `events` and `event_series`.
    follow_all: bool = False
    follow_categories: list[str] = msgspec.field(default_factory=list)
    # Kalshi's WebSocket limits (docs/kalshi-api.md "Limits"): markets on one connection (one
    # subscription per channel), tickers per subscribe/update command, connections at most.
    markets_per_connection: Annotated[int, msgspec.Meta(ge=1)] = 5_000
    subscribe_batch: Annotated[int, msgspec.Meta(ge=1)] = 500
    max_connections: Annotated[int, msgspec.Meta(ge=1, le=64)] = 16

    def __post_init__(self) -> None:
        if self.follow_all and self.follow_categories:
            raise ValueError("`follow_categories` has no effect with collection.follow_all: true; "
                             "keep one of the two")
        for i, category in enumerate(self.follow_categories):
            if not isinstance(category, str) or not category.strip():
                raise ValueError(f"`follow_categories[{i}]` = {category!r}: expected a Kalshi "
                                 "category name such as \"Sports\" or \"Crypto\"")

    @property
    def follows_exchange(self) -> bool:
        """True when markets are chosen by listing the exchange (all, or by category)."""
        return self.follow_all or bool(self.follow_categories)


class StorageConfig(_Section):
    data_dir: str = "data"
    flush_interval_seconds: Positive = 60.0
    # Flush sooner once this many rows wait in memory (bounds memory at high message rates).
    max_buffered_rows: Annotated[int, msgspec.Meta(ge=1000)] = 100_000
    # Identifies this collector in part-file names, so several VMs can share one bucket.
    collector_id: str = "c0"
    # At stop, while part files cannot be written (disk full), retry this long before leaving the
    # rows in the journal and exiting non-zero (keep it under systemd's TimeoutStopSec, 120 s).
    stop_wait_for_space_seconds: NonNegative = 60.0
    # Build and write part files of at least this many rows in a helper process, so a flush does
    # not slow the WebSocket read loop (it would share the GIL); 0 = always in the collector's process.
    writer_process_min_rows: Annotated[int, msgspec.Meta(ge=0)] = 20_000

    def __post_init__(self) -> None:
        if not re.match(r"^[A-Za-z0-9_]+$", self.collector_id):
            raise ValueError(
                f"`collector_id` = {self.collector_id!r}: expected letters, digits or underscores only"
            )


class BackfillConfig(_Section):
    # Keep every REST body the backfill receives in raw_rest. Off by default: the backfill's tables
    # already hold those pages' content and Kalshi serves them again (docs/schemas.md, raw_rest).
    keep_raw: bool = False


class WeatherConfig(_Section):
    stations: list[str] = msgspec.field(default_factory=list)
    iem_url: str = IEM_URL
    awc_url: str = AWC_URL
    # One weather request, every retry and wait included: a server that accepts the connection and
    # never answers costs this long, not minutes.
    request_total_seconds: Positive = 30.0

    def __post_init__(self) -> None:
        _check_url(self.iem_url, ("http", "https"), "weather.iem_url", IEM_URL)
        _check_url(self.awc_url, ("http", "https"), "weather.awc_url", AWC_URL)


class MetricsConfig(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 9108


class Config(_Section):
    kalshi: KalshiConfig
    events: list[str] = msgspec.field(default_factory=list)
    event_series: list[str] = msgspec.field(default_factory=list)
    collection: CollectionConfig = msgspec.field(default_factory=CollectionConfig)
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    backfill: BackfillConfig = msgspec.field(default_factory=BackfillConfig)
    weather: WeatherConfig = msgspec.field(default_factory=WeatherConfig)
    metrics: MetricsConfig = msgspec.field(default_factory=MetricsConfig)
    # Where the file was read from (relative paths in it were resolved against its folder).
    source: str | None = None

    def __post_init__(self) -> None:
        for key in ("events", "event_series"):
            for i, ticker in enumerate(getattr(self, key)):
                if not isinstance(ticker, str) or not _TICKER.match(ticker):
                    raise ValueError(
                        f"`{key}[{i}]` = {ticker!r}: expected an upper-case Kalshi ticker such as "
                        + ("\"KXHIGHCHI-26FEB11\"" if key == "events" else "\"KXHIGHCHI\"")
                    )

    def require_credentials(self, why: str = "the WebSocket") -> tuple[str, str]:
        """Return (api_key_id, private_key_path) or fail with the fix spelled out."""
        missing = []
        if not self.kalshi.api_key_id:
            missing.append("kalshi.api_key_id (or env KALSHI_API_KEY_ID)")
        if not self.kalshi.private_key_path:
            missing.append("kalshi.private_key_path (or env KALSHI_PRIVATE_KEY_PATH)")
        if missing:
            raise ConfigError(f"{why} needs API credentials; set {' and '.join(missing)}")
        assert self.kalshi.api_key_id and self.kalshi.private_key_path
        return self.kalshi.api_key_id, self.kalshi.private_key_path


def _check_url(url: str, schemes: tuple[str, ...], key: str, example: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ValueError(f"`{key.rsplit('.', 1)[-1]}` = {url!r}: expected a {'/'.join(schemes)} URL such as {example!r}")


def _is_url(path: str) -> bool:
    return "://" in path


def _resolve(path: str | None, base: Path) -> str | None:
    if path is None or _is_url(path):
        return path
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


# --- error phrasing --------------------------------------------------------------------------------

_PATH_RE = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_UNKNOWN_RE = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`")


def _struct_for_path(parts: list[str | int]) -> type[msgspec.Struct] | None:
    """The Struct class found at a key path, used to suggest the valid keys for a typo."""
    cls: Any = Config
    for part in parts:
        if isinstance(part, int):
            continue
        hints = {f.name: f.type for f in msgspec.structs.fields(cls)}
        t = hints.get(part)
        if t is None:
            return None
        # unwrap list[X] / X | None
        args = getattr(t, "__args__", None)
        if args:
            t = next((a for a in args if isinstance(a, type) and issubclass(a, msgspec.Struct)), t)
        if not (isinstance(t, type) and issubclass(t, msgspec.Struct)):
            return None
        cls = t
    return cls


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for m in re.finditer(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]", path):
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
    return parts


def _choices(parts: list[str | int]) -> list[str] | None:
    """The allowed values of a ``Literal`` field at a key path (``kalshi.rate_tier``), else None."""
    if not parts or not isinstance(parts[-1], str):
        return None
    cls = _struct_for_path(parts[:-1])
    if cls is None:
        return None
    hints = {f.name: f.type for f in msgspec.structs.fields(cls)}
    t = hints.get(parts[-1])
    if typing.get_origin(t) is Literal:
        return [str(a) for a in typing.get_args(t)]
    return None


def _dotted(parts: list[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _lookup(data: Any, parts: list[str | int]) -> Any:
    for p in parts:
        try:
            data = data[p]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _phrase(err: msgspec.ValidationError, raw: Mapping[str, Any]) -> str:
    text = str(err)
    m = _PATH_RE.search(text)
    parts = _split_path(m.group("path")) if m else []
    body = text[: m.start()] if m else text
    unknown = _UNKNOWN_RE.match(body)
    if unknown:
        field = unknown.group("field")
        cls = _struct_for_path(parts)
        valid = [f.name for f in msgspec.structs.fields(cls) if f.name != "source"] if cls else []
        near = difflib.get_close_matches(field, valid + legacy_names(_dotted(parts)), n=1, cutoff=0.6)
        where = _dotted([*parts, field])
        hint = f"; did you mean `{_dotted([*parts, near[0]])}`?" if near else ""
        return f"unknown key `{where}`{hint} (valid keys here: {', '.join(valid)})"
    if body.startswith("Object missing required field"):
        field = re.search(r"`([^`]+)`", body)
        name = field.group(1) if field else "?"
        return f"missing required key `{_dotted([*parts, name])}`"
    where = _dotted(parts) or "(top level)"
    value = _lookup(raw, parts)
    # __post_init__ messages read "`leaf` = value: expected ..."; prefix the leaf with its path.
    leaf = re.match(r"^`([^`]+)`(.*)$", body, re.S)
    if leaf:
        return f"`{_dotted([*parts, *_split_path('.' + leaf.group(1))])}`{leaf.group(2)}"
    choices = _choices(parts) if body.startswith("Invalid enum value") else None
    if choices:
        return f"`{where}` = {value!r}: expected one of {', '.join(choices)}"
    body = body.replace("Expected", "expected")
    return f"`{where}` = {value!r}: {body}"


def config_from_dict(
    raw: Mapping[str, Any] | None,
    *,
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    source: str | None = None,
) -> Config:
    """Validate a parsed YAML mapping into a :class:`Config` (env overrides applied)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config: expected a mapping of sections at the top level, got {type(raw).__name__}")
    if "kalshi" not in raw:
        raise ConfigError("missing required section `kalshi` (it may be empty: `kalshi: {}`)")
    try:
        data, legacy_warnings = translate(raw)
    except LegacyConfigError as exc:
        raise ConfigError(str(exc)) from None
    for warning in legacy_warnings:
        log.warning("%s", warning)
    if data.get("kalshi") is None:
        data["kalshi"] = {}
    for key in ("api_key_id", "private_key_path"):
        if isinstance(data["kalshi"], dict) and data["kalshi"].get(key) == "":
            data["kalshi"][key] = None  # the original's config shipped them as "" (unset)
    for key in ("events", "event_series"):
        if data.get(key, ()) is None:
            data[key] = []
    env = os.environ if env is None else env
    try:
        cfg = msgspec.convert(data, Config, strict=True)
    except msgspec.ValidationError as err:
        raise ConfigError(_phrase(err, data)) from None
    base = base_dir or Path.cwd()
    kalshi = cfg.kalshi
    key_id = env.get("KALSHI_API_KEY_ID") or kalshi.api_key_id
    key_path = env.get("KALSHI_PRIVATE_KEY_PATH") or kalshi.private_key_path
    kalshi = msgspec.structs.replace(kalshi, api_key_id=key_id, private_key_path=_resolve(key_path, base))
    storage = msgspec.structs.replace(cfg.storage, data_dir=_resolve(cfg.storage.data_dir, base) or "data")
    return msgspec.structs.replace(cfg, kalshi=kalshi, storage=storage, source=source)


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read and validate ``path``. Raises :class:`ConfigError` with a one-line explanation."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ConfigError(
            f"config file not found: {p} (copy config.example.yaml to {p.name}, or pass --config PATH)"
        )
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {p} cannot be read: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"config file {p} is not valid YAML{where}: {problem}") from None
    return config_from_dict(raw, base_dir=p.resolve().parent, env=env, source=str(p.resolve()))
