import pytest

from foundation.errors import ConfigError
from foundation.settings import load_settings


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


@pytest.mark.parametrize("var", ["POBI_STACK_DIR", "POBI_SECRETS_DIR"])
def test_state_never_depends_on_the_current_folder(monkeypatch: pytest.MonkeyPatch, var: str) -> None:
    monkeypatch.setenv(var, ".pobi")
    with pytest.raises(ConfigError, match="must be an absolute path"):
        load_settings()


def test_the_state_folder_is_one_absolute_place(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.delenv("POBI_STACK_DIR", raising=False)
    monkeypatch.delenv("POBI_SECRETS_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.chdir(str(tmp_path))
    s = load_settings()
    assert s.stack_path == tmp_path / "pobi"  # type: ignore[operator]
    assert s.secrets_path == tmp_path / "pobi" / "secrets"  # type: ignore[operator]


def test_a_dot_env_in_the_current_folder_is_not_read(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / ".env").write_text("POBI_METRICS_PORT=1234\n")
    monkeypatch.chdir(folder)
    monkeypatch.delenv("POBI_METRICS_PORT", raising=False)
    assert load_settings().metrics_port == 9464
    monkeypatch.setenv("POBI_ENV_FILE", str(folder / ".env"))
    assert load_settings().metrics_port == 1234


@pytest.mark.parametrize(("var", "value"), [
    ("POBI_WEBHOOK_ALLOW", "10.0.0.0/33"), ("POBI_WEBHOOK_ALLOW", "localhost"), ("POBI_DLQ_LIMIT", "1.5"),
    ("POBI_DLQ_LIMIT_WINDOW", "0"), ("POBI_NAMESPACE", "Team A"),
])
def test_hardening_settings_are_checked_too(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=var):
        load_settings()


def test_an_env_file_that_is_not_there_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POBI_ENV_FILE", "/nonexistent/pobi.env")
    with pytest.raises(ConfigError, match=r"POBI_ENV_FILE=/nonexistent/pobi\.env is not a file"):
        load_settings()


def test_the_webhook_allow_list_parses_into_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POBI_WEBHOOK_ALLOW", "127.0.0.1/32, 10.20.0.0/16,::1/128")
    assert [str(n) for n in load_settings().webhook_networks] == ["127.0.0.1/32", "10.20.0.0/16", "::1/128"]


@pytest.mark.parametrize(("env", "database"), [
    ({}, "pobi"), ({"POBI_NAMESPACE": "t-1"}, "pobi_t_1"),
    ({"POBI_NAMESPACE": "t-1", "POBI_CLICKHOUSE_DATABASE": "shared"}, "shared"),
])
def test_a_namespace_has_a_clickhouse_database_of_its_own(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                                          database: str) -> None:
    for var in ("POBI_NAMESPACE", "POBI_CLICKHOUSE_DATABASE"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    settings = load_settings()
    assert settings.clickhouse_database == database
    from foundation.settings import Settings

    assert Settings(**settings.model_dump()).clickhouse_database == database  # as a worker's child sees it
