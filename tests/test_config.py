"""Config validation: every mistake is one line naming the key, the value and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from kalshi_collector.config import PROD_REST_URL, ConfigError, config_from_dict, load_config


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text(text)
    return p


def test_minimal_config_gets_production_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "kalshi: {}\n"), env={})
    assert cfg.kalshi.base_url == PROD_REST_URL
    assert cfg.kalshi.ws_url.startswith("wss://")
    assert cfg.events == [] and cfg.event_series == []
    assert cfg.collection.interval_seconds == 60 and cfg.collection.spike_threshold_cents == 3
    assert cfg.storage.data_dir == str(tmp_path / "data"), "relative paths resolve from the config's folder"


def test_seed_keys_are_accepted_exactly(tmp_path: Path) -> None:
    text = """
kalshi:
  api_key_id: "abc"
  private_key_path: "keys/k.pem"
  base_url: "https://api.elections.kalshi.com/trade-api/v2"
  ws_url:   "wss://api.elections.kalshi.com/trade-api/ws/v2"
events: ["KXHIGHCHI-26FEB11", "KXHIGHNY-26FEB12"]
event_series: ["KXHIGHCHI"]
collection:
  interval_seconds: 60
  interval_overrides:
    - {start: "09:30", end: "16:00", timezone: "America/New_York", interval_seconds: 10}
  spike_threshold_cents: 3
  spike_cooldown_seconds: 2
  max_orderbook_depth: 0
storage:
  data_dir: "/var/lib/kc"
  flush_interval_seconds: 300
weather:
  stations: ["KMDW"]
  iem_url: "https://mesonet.agron.iastate.edu"
  awc_url: "https://aviationweather.gov"
"""
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.kalshi.private_key_path == str(tmp_path / "keys" / "k.pem")
    assert cfg.storage.data_dir == "/var/lib/kc"
    ov = cfg.collection.interval_overrides[0]
    assert ov.interval_seconds == 10 and ov.zone.key == "America/New_York"


def test_environment_overrides_credentials(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, "kalshi: {api_key_id: file-id, private_key_path: a.pem}\n"),
        env={"KALSHI_API_KEY_ID": "env-id", "KALSHI_PRIVATE_KEY_PATH": "/secrets/k.pem"},
    )
    assert cfg.kalshi.api_key_id == "env-id" and cfg.kalshi.private_key_path == "/secrets/k.pem"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kalshi: {}\ncollection: {intervall_seconds: 5}\n", "did you mean `collection.interval_seconds`"),
        ("kalshi: {}\nstorag: {}\n", "did you mean `storage`"),
        ("kalshi: {}\ncollection: {interval_seconds: fast}\n", "`collection.interval_seconds` = 'fast'"),
        ("kalshi: {}\ncollection: {interval_seconds: -5}\n", "expected `float` > 0"),
        ("kalshi: {base_url: 'ftp://x'}\n", "`kalshi.base_url` = 'ftp://x': expected a http/https URL"),
        ("kalshi: {ws_url: 'https://x/ws'}\n", "`kalshi.ws_url`"),
        ("kalshi: {}\nevents: [kxhighchi]\n", "`events[0]` = 'kxhighchi'"),
        ("kalshi: {}\nevents: KXHIGHCHI-26FEB11\n", "`events`"),
        (
            "kalshi: {}\ncollection: {interval_overrides: [{start: '9:30', end: '16:00', timezone: UTC, interval_seconds: 5}]}\n",
            "`collection.interval_overrides[0].start` = '9:30'",
        ),
        (
            "kalshi: {}\ncollection: {interval_overrides: [{start: '09:30', end: '16:00', timezone: Mars/Base, interval_seconds: 5}]}\n",
            "IANA time zone",
        ),
        ("collection: {}\n", "missing required section `kalshi`"),
        ("kalshi: {}\nweather: {iem_url: 'not a url'}\n", "`weather.iem_url`"),
        ("kalshi: {}\nmetrics: {port: 70000}\n", "`metrics.port`"),
    ],
)
def test_bad_config_names_key_value_and_fix(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    message = str(info.value)
    assert expected in message
    assert "\n" not in message, "one line"


def test_missing_file_and_yaml_syntax(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+, column \d+"):
        load_config(write(tmp_path, "kalshi: {}\ncollection: [unclosed\n"))


def test_credentials_required_only_where_needed() -> None:
    cfg = config_from_dict({"kalshi": {}}, env={})
    with pytest.raises(ConfigError, match="KALSHI_API_KEY_ID"):
        cfg.require_credentials()
    cfg = config_from_dict({"kalshi": {"api_key_id": "k", "private_key_path": "/k.pem"}}, env={})
    assert cfg.require_credentials() == ("k", "/k.pem")


def test_follow_the_exchange_settings() -> None:
    cfg = config_from_dict({"kalshi": {}, "collection": {"follow_categories": ["Sports", "Crypto"],
                                                         "markets_per_connection": 2000}}, env={})
    assert cfg.collection.follows_exchange and cfg.collection.markets_per_connection == 2000
    assert not config_from_dict({"kalshi": {}}, env={}).collection.follows_exchange


@pytest.mark.parametrize(("collection", "expected"), [
    ({"follow_all": True, "follow_categories": ["Sports"]}, "`collection.follow_categories` has no effect"),
    ({"follow_categories": [""]}, "`collection.follow_categories[0]` = ''"),
    ({"markets_per_connection": 0}, "`collection.markets_per_connection` = 0"),
    ({"max_connections": 100}, "`collection.max_connections` = 100"),
    ({"follow_all": "yes"}, "`collection.follow_all` = 'yes'"),
])
def test_follow_the_exchange_errors_name_the_setting(collection: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_dict({"kalshi": {}, "collection": collection}, env={})
    assert expected in str(err.value)
