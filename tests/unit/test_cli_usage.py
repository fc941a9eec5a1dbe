"""A bad command line gets one line on stderr and a non-zero exit."""

import subprocess
import sys
from pathlib import Path

import pytest


def _pobi(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-c", "from pobi.cli import main; main()", *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)


@pytest.mark.parametrize("args", [
    ("stack", "sideways"), ("topics", "list", "--jsn"), ("nonsense",), ("dlq", "list", "--since", "yesterday"),
    ("dlq", "replay", "--stage", "everything"), ("worker", "--stage", "fanout-later"),
    ("worker", "--dataset", "pets"), ("worker", "--processes", "-1"), ("ledger", "--verbose"),
    ("demo", "--rate", "0"), ("demo", "--duration", "soon"), ("object",), ("search", "--limit", "0", "陈"),
    ("ledger", "rebuild", "--force"), ("ledger", "forget"),
    *[("publish", "/dev/null", "--source-dept", "d", "--system", "s", *wrong) for wrong in (
        ("--dataset", "person", "--format", "xml"), ("--dataset", "persons"),
        ("--dataset", "person", "--encoding", "latin-9x"), ("--dataset", "person", "--op", "x"))],
    ("subscriptions", "validate", "--contracts", "/nonexistent"), ("schemas", "check", "--root", "/nonexistent"),
])
def test_bad_arguments_give_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    result = _pobi(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pobi")


def test_a_schema_folder_without_schemas_is_a_bad_command_line(tmp_path: Path) -> None:
    result = _pobi("schemas", "check", "--root", str(tmp_path))
    assert result.returncode == 2 and f"no schemas under {tmp_path}" in result.stderr
    assert "compatible" not in result.stdout


@pytest.mark.parametrize(("args", "env", "said"), [
    (("object", "350102199003071234"), {"POBI_CLICKHOUSE_PORT": "1"}, "cannot reach ClickHouse at 127.0.0.1:1"),
    *[(args, {"POBI_CLICKHOUSE_PORT": "1"}, "cannot reach ClickHouse at 127.0.0.1:1") for args in (
        ("search", "陈"), ("timeline", "350102199003071234"), ("tracker", "350102199003071234"),
        ("views", "status"))],
    (("topics", "list"), {"POBI_KAFKA_BOOTSTRAP": "127.0.0.1:1"}, "cannot reach Kafka at 127.0.0.1:1"),
    (("ledger",), {"POBI_KAFKA_BOOTSTRAP": "127.0.0.1:1"}, "cannot reach Kafka at 127.0.0.1:1"),
])
def test_a_service_that_does_not_answer_is_one_line(args: tuple[str, ...], env: dict[str, str], said: str) -> None:
    result = _pobi(*args, env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and said in result.stderr


def test_bad_setting_gives_one_line_and_exit_1() -> None:
    result = _pobi("stack", "status", env={"POBI_REDIS_PORT": "seven"})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "pobi: error: setting POBI_REDIS_PORT='seven' is not valid: "
        "Input should be a valid integer, unable to parse string as an integer"
    )


def test_a_relative_state_folder_is_one_line_and_exit_1() -> None:
    result = _pobi("stack", "status", env={"POBI_STACK_DIR": "relative/state"})
    assert result.returncode == 1
    assert result.stderr.strip().startswith("pobi: error: setting POBI_STACK_DIR='relative/state' is not valid")
    assert "absolute path" in result.stderr and "Traceback" not in result.stderr


def test_a_broken_mapping_file_is_one_line(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text("公民身份号码: id_number\n  姓名: [name\n", encoding="utf-8")
    rows = tmp_path / "rows.csv"
    rows.write_text("公民身份号码\n350102199003071234\n", encoding="utf-8")
    result = _pobi("publish", str(rows), "-d", "person", "--source-dept", "d", "--system", "s", "--mapping",
                   str(mapping), "--dry-run")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"pobi: error: {mapping}:2: not valid YAML "
                                                  f"({result.stderr.split('YAML (')[1].strip()}"]


@pytest.mark.parametrize("command", ["worker", "gateway"])
def test_a_port_already_taken_is_one_line(command: str) -> None:
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = str(squatter.getsockname()[1])
        env = {"POBI_METRICS_PORT": port, "POBI_GATEWAY_PORT": port, "POBI_API_PORT": "0",
               "POBI_KAFKA_BOOTSTRAP": "127.0.0.1:1", "POBI_REDIS_PORT": "1"}
        args = ["worker", "--stage", "normalize", "--processes", "1"] if command == "worker" else ["gateway"]
        result = _pobi(*args, env=env)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and port in lines[0] and "Traceback" not in result.stderr


def _leaf_commands() -> list[tuple[str, ...]]:
    from typer.main import get_command

    from pobi.cli import app

    def walk(command: object, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        children = getattr(command, "commands", None)
        if not children:
            return [path]
        return [leaf for name, child in children.items() for leaf in walk(child, (*path, name))]

    return walk(get_command(app), ())


def test_every_command_shows_an_example_in_its_help() -> None:
    from typer.main import get_command

    from pobi.cli import app

    root = get_command(app)
    missing = []
    for path in _leaf_commands():
        command = root
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        if "Example: `pobi " not in (command.help or ""):
            missing.append(" ".join(path))
    assert missing == []


def test_dash_h_is_help_and_the_shell_completes_commands() -> None:
    short = _pobi("dlq", "list", "-h")
    assert short.returncode == 0 and short.stdout.startswith("Usage: pobi dlq list")
    # the shell is detected from the parent process; a test names it (what `make` runs under is sh)
    script = _pobi("--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert script.returncode == 0 and "_pobi_completion" in script.stdout
    completed = _pobi(env={"_POBI_COMPLETE": "complete_bash", "COMP_WORDS": "pobi dlq li", "COMP_CWORD": "2"})
    assert completed.stdout.split() == ["list"]
