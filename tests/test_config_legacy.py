"""The original collector's config.yaml works unchanged: each of its keys maps to its new home or is
retired, with exactly one warning each; genuinely unknown keys stay errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kalshi_collector.config import ConfigError, config_from_dict, load_config
from kalshi_collector.config_legacy import LEGACY_KEYS, Moved, Retired, translate

ORIGINAL = Path(__file__).parent / "fixtures" / "original"


def legacy_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "kalshi_collector.config" and r.levelno == logging.WARNING]


def test_the_readme_example_loads_as_is(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        cfg = load_config(ORIGINAL / "readme-example.yaml", env={})
    assert legacy_warnings(caplog) == []  # every key of it is one of ours
    assert cfg.kalshi.private_key_path == "/path/to/key.pem"
    assert cfg.kalshi.base_url == "https://api.elections.kalshi.com/trade-api/v2"
    assert cfg.kalshi.ws_url == "wss://api.elections.kalshi.com/trade-api/ws/v2"
    assert cfg.events == ["KXHIGHCHI-26FEB11", "KXHIGHNY-26FEB12"]
    assert (cfg.collection.interval_seconds, cfg.collection.spike_threshold_cents,
            cfg.collection.spike_cooldown_seconds) == (60, 3, 2)
    assert cfg.storage.data_dir == str(ORIGINAL / "data")  # relative to the config file, as in the original
    assert cfg.storage.flush_interval_seconds == 300


def test_the_shipped_config_loads_with_one_warning_per_original_key(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        cfg = load_config(ORIGINAL / "config.yaml", env={})
    assert cfg.event_series == ["KXHIGHCHI", "KXHIGHNY"] and cfg.events == []
    assert cfg.kalshi.private_key_path == "/home/kaitores/.kalshi/kalshi_api_key.txt"
    assert cfg.kalshi.base_url == "https://api.elections.kalshi.com/trade-api/v2"
    assert cfg.collection.max_orderbook_depth == 5 and cfg.collection.interval_seconds == 60
    assert cfg.storage.flush_interval_seconds == 300
    assert cfg.weather.stations == []  # `weather_stations` is commented out in it
    found = legacy_warnings(caplog)
    assert len(found) == 2, found
    baseline, ldm = found
    assert "`collection.baseline_every_n_snapshots`" in baseline and "no meaning here" in baseline
    assert "full book" in baseline
    assert "`ldm`" in ldm and "ignored" in ldm


def test_the_config_of_february_17_maps_its_schedule_keys(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        cfg = load_config(ORIGINAL / "config-2026-02-17.yaml", env={})
    assert cfg.events == ["KXHIGHCHI-26FEB12"]
    assert cfg.collection.interval_seconds == 60
    assert [(o.start, o.end, o.timezone, o.interval_seconds) for o in cfg.collection.interval_overrides] == [
        ("14:00", "16:00", "America/Chicago", 15), ("12:00", "14:00", "America/Chicago", 30)]
    assert legacy_warnings(caplog) == [
        "config: `collection.default_interval_seconds` (a key of the original collector) is now "
        "`collection.interval_seconds`; read as `collection.interval_seconds` (rename it to silence this warning)",
        "config: `collection.time_schedules` (a key of the original collector) is now "
        "`collection.interval_overrides`; read as `collection.interval_overrides` (rename it to silence this warning)",
    ]


def test_top_level_weather_stations_becomes_weather_stations(caplog: pytest.LogCaptureFixture) -> None:
    raw = {"kalshi": {}, "event_series": ["KXHIGHCHI"], "weather_stations": ["KMDW", "KNYC"]}
    with caplog.at_level(logging.WARNING):
        cfg = config_from_dict(raw, env={})
    assert cfg.weather.stations == ["KMDW", "KNYC"]
    assert legacy_warnings(caplog) == [Moved("weather_stations", "weather.stations").warning()]
    assert "weather_stations" in raw  # the caller's mapping is not changed


def test_time_schedules_without_a_timezone_are_utc_as_in_the_original() -> None:
    raw = {"kalshi": {}, "collection": {"time_schedules": [{"start": "14:00", "end": "16:00", "interval_seconds": 15}]}}
    [override] = config_from_dict(raw, env={}).collection.interval_overrides
    assert override.timezone == "UTC"


def test_an_original_key_and_its_new_home_together_is_an_error() -> None:
    raw = {"kalshi": {}, "weather_stations": ["KMDW"], "weather": {"stations": ["KNYC"]}}
    with pytest.raises(ConfigError, match="`weather_stations` and `weather.stations` are both set; keep `weather.stations`"):
        config_from_dict(raw, env={})


def test_the_originals_empty_credentials_mean_unset() -> None:
    cfg = config_from_dict({"kalshi": {"api_key_id": "", "private_key_path": ""}}, env={})
    assert cfg.kalshi.api_key_id is None and cfg.kalshi.private_key_path is None
    with pytest.raises(ConfigError, match="kalshi.api_key_id"):
        cfg.require_credentials()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kalshi: {}\ncollection: {baseline_every_n_snapshot: 60}\n",
         "unknown key `collection.baseline_every_n_snapshot`; did you mean `collection.baseline_every_n_snapshots`?"),
        ("kalshi: {}\nweather_station: [KMDW]\n", "did you mean `weather_stations`?"),
        ("kalshi: {}\nldm_extra: {}\n", "unknown key `ldm_extra`"),
        ("kalshi: {rate_tier: gold}\n",
         "`kalshi.rate_tier` = 'gold': expected one of basic, advanced, expert, premier, paragon, prime, prestige"),
    ],
)
def test_unknown_keys_stay_errors_and_bad_choices_list_the_valid_ones(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_every_legacy_key_is_named_once_and_retired_ones_say_why() -> None:
    names = [entry.old for entry in LEGACY_KEYS]
    assert len(names) == len(set(names))
    for entry in LEGACY_KEYS:
        raw = _nested(entry.old, 1)
        translated = translate({"kalshi": {}, **raw})
        assert translated.warnings == [entry.warning()]
        if isinstance(entry, Retired):
            assert entry.why and "no meaning here" in entry.warning()
        else:
            assert _lookup(translated.raw, entry.new) is not None


def _nested(dotted: str, value: object) -> dict:
    out: object = value
    for part in reversed(dotted.split(".")):
        out = {part: out}
    assert isinstance(out, dict)
    return out


def _lookup(data: dict, dotted: str) -> object:
    node: object = data
    for part in dotted.split("."):
        assert isinstance(node, dict)
        node = node.get(part)
    return node
