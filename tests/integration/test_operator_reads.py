"""Read commands an operator relies on: `topics list` judges feeds by the contracts in force on the hub (not
the repository's examples), and `dlq list --since` starts at the first letter written since then."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from foundation.settings import Settings
from schemas.registry import default_registry
from tests.stream_helpers import namespaced
from topics.admin import admin_client, apply_catalogue
from topics.catalogue import load_catalogue
from topics.dead_letters import DeadLetter
from topics.producer import Publisher
from topics.subscriptions import CONTRACTS_DIR, apply_contracts, load_contracts

pytestmark = pytest.mark.stack


def _pobi(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POBI_NAMESPACE": settings.namespace, "POBI_SECRETS_DIR": str(settings.secrets_path)}
    return subprocess.run([str(Path(sys.executable).with_name("pobi")), *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_topics_list_and_dlq_since_read_the_hub(live_stack: object, unique: str, tmp_path: Path) -> None:
    settings = namespaced(unique, secrets_dir=tmp_path / "secrets")
    apply_catalogue(admin_client(settings), load_catalogue(subscribers=["fuzhou-city"]).in_namespace(
        settings.topics.named))
    found, _ = load_contracts(CONTRACTS_DIR, default_registry(), datetime.now(UTC).date())
    apply_contracts(settings, [c for c in found if c.subscriber == "fuzhou-city"], default_registry())

    listed = _pobi(settings, "topics", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    states = {t["name"]: t["state"] for t in json.loads(listed.stdout)}
    assert states[settings.topics.out("fuzhou-city")] == "ok"  # an applied feed is managed
    assert settings.topics.out("credit-system") not in states  # the repository's example is not in force

    def letters(tag: str, n: int) -> None:
        with Publisher(settings) as publisher:
            for i in range(n):
                publisher.send_dead_letter(DeadLetter("normalize", "test.reason", tag, f"{tag}{i}".encode()),
                                           settings.topics.dlq("normalize"))

    letters("before", 3)
    time.sleep(1.5)
    since = datetime.now(UTC).isoformat()
    letters("after", 2)
    shown = _pobi(settings, "dlq", "list", "--stage", "normalize", "--since", since, "--json")
    assert shown.returncode == 0, shown.stderr
    assert sorted(r["message"] for r in json.loads(shown.stdout)) == ["after", "after"]
