"""pobi as a deployment installs it: the built wheel in a fresh virtual environment outside the checkout, run
as an unprivileged user from a folder it cannot write, with its state where the operator put it.

The wheel must carry every data file pobi reads (migrations, schemas, the catalogue, contracts, mappings,
dashboards); nothing may be looked for relative to the current folder. The environment borrows the
checkout's installed dependencies through a path file (so the test needs no network), but ``pobi`` itself
comes only from the wheel: the checkout is not on the path, and its editable install is not loaded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.settings import Settings
from tests.gateway_helpers import free_port
from tests.kafka_helpers import read_all

pytestmark = pytest.mark.stack
REPO = Path(__file__).resolve().parents[2]
UNPRIVILEGED = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]


@pytest.fixture(scope="module")
def installed() -> Iterator[Path]:
    """A virtual environment with the wheel installed, readable by everyone; yields its ``pobi``."""
    root = Path(tempfile.mkdtemp(prefix="pobi-wheel-"))
    root.chmod(0o755)
    try:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "dist"), str(REPO)],
                       check=True, capture_output=True, timeout=300)
        [wheel] = (root / "dist").glob("pobi-*.whl")
        names = zipfile.ZipFile(wheel).namelist()
        assert "sinks/clickhouse/migrations/001_tables.sql" in names
        assert "schemas/avro/person/v1.avsc" in names and "topics/catalogue.yaml" in names
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True, timeout=120)
        purelib = subprocess.run([str(root / "venv/bin/python"), "-c", "import sysconfig; print(sysconfig.get_path("
                                  "'purelib'))"], check=True, capture_output=True, text=True).stdout.strip()
        dependencies = subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                      check=True, capture_output=True, text=True).stdout.strip()
        with zipfile.ZipFile(wheel) as archive:  # what pip does with a pure wheel, minus the network
            archive.extractall(purelib)
        (Path(purelib) / "zz-dependencies.pth").write_text(dependencies + "\n")
        entry = root / "venv/bin/pobi"
        entry.write_text(f"#!{root / 'venv/bin/python'}\nfrom pobi.cli import main\nmain()\n")
        entry.chmod(0o755)
        os.chmod(purelib, 0o755)
        yield entry
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_as_nobody(pobi: Path, env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*UNPRIVILEGED, str(pobi), *args], env=env, cwd="/", capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_the_wheel_runs_migrations_topics_and_a_worker_as_nobody(installed: Path, live_stack: object,
                                                                  settings: Settings, unique: str) -> None:
    state = Path(tempfile.mkdtemp(prefix="pobi-state-"))
    shutil.chown(state, "nobody", "nogroup")
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "POBI_STACK_DIR": str(state / "pobi"),
           "POBI_NAMESPACE": f"t{unique}", "POBI_METRICS_PORT": str(free_port()), "POBI_API_PORT": "0"}
    try:
        where = subprocess.run([*UNPRIVILEGED, str(installed.parent / "python"), "-c",
                                "import pobi, sinks; print(pobi.__file__, sinks.__file__)"],
                               env=env, cwd="/", capture_output=True, text=True, check=True)
        assert str(REPO) not in where.stdout and "pobi-wheel-" in where.stdout  # from the wheel, not the checkout

        for command in (["topics", "apply"], ["views", "migrate"]):
            done = run_as_nobody(installed, env, *command)
            assert done.returncode in (0, 3), done.stderr  # 3: the shared broker's drift report
            assert "Traceback" not in done.stderr
        status = run_as_nobody(installed, env, "views", "status", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["database"] == f"pobi_t{unique}"

        rows = state / "rows.jsonl"
        rows.write_text('{"id_number": "350102199003071234", "name": "陈志明"}\n', encoding="utf-8")
        rows.chmod(0o644)
        published = run_as_nobody(installed, env, "publish", str(rows), "-d", "person", "--source-dept",
                                  "public-security", "--system", "hukou")
        assert published.returncode == 0, published.stderr

        worker = subprocess.Popen([*UNPRIVILEGED, str(installed), "worker", "--stage", "normalize", "--processes", "1",
                                   "--dataset", "person"], env=env, cwd="/", stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        try:
            norm = f"t{unique}.norm.person"
            deadline = time.monotonic() + 90
            while not read_all(settings, norm, timeout_s=2):
                assert worker.poll() is None, worker.communicate()[1][-2000:]
                assert time.monotonic() < deadline, "the wheel's worker normalised nothing"
                time.sleep(1)
        finally:
            worker.send_signal(signal.SIGINT)
            _out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err[-2000:]
        assert (state / "pobi" / "metrics").is_dir()  # state where the operator put it
    finally:
        shutil.rmtree(state, ignore_errors=True)
