import pytest

from pobi.errors import ConfigError
from pobi.settings import load_settings


def test_defaults_match_the_documented_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("POBI_KAFKA_BOOTSTRAP", "POBI_CLICKHOUSE_PORT", "POBI_METRICS_PORT"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert (s.kafka_host, s.kafka_port) == ("127.0.0.1", 9092)
    assert (s.clickhouse_port, s.clickhouse_http_port, s.redis_port) == (9000, 8123, 6379)
    assert (s.prometheus_port, s.metrics_port) == (9090, 9464)


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POBI_KAFKA_BOOTSTRAP", "broker-a:19092,broker-b:19092")
    s = load_settings()
    assert (s.kafka_host, s.kafka_port) == ("broker-a", 19092)


@pytest.mark.parametrize(
    ("var", "value", "named"),
    [
        ("POBI_METRICS_PORT", "abc", "POBI_METRICS_PORT"),
        ("POBI_REDIS_PORT", "70000", "POBI_REDIS_PORT"),
        ("POBI_KAFKA_BOOTSTRAP", "no-port-here", "POBI_KAFKA_BOOTSTRAP"),
        ("POBI_KAFKA_VERSION", "4.0.0", "POBI_KAFKA_VERSION"),
    ],
)
def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, var: str, value: str,
                                        named: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert named in message and value in message
    assert "\n" not in message
