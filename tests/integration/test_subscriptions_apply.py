"""`pobi subscriptions apply` keeps the operator's promises: `--dry-run` says what would change and changes
nothing, a contract missing from the folder is kept (and listed) unless `--prune`, and `validate` refuses what
`apply` would refuse (a changed contract under an unchanged version)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stream_helpers import namespaced
from topics.subscriptions import CONTRACTS_DIR, read_documents

pytestmark = pytest.mark.stack


def _pobi(settings: object, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POBI_NAMESPACE": settings.namespace,  # type: ignore[attr-defined]
           "POBI_SECRETS_DIR": str(settings.secrets_path)}  # type: ignore[attr-defined]
    return subprocess.run([str(Path(sys.executable).with_name("pobi")), *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def _folder(tmp_path: Path, name: str, *subscribers: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for subscriber in subscribers:
        shutil.copy(CONTRACTS_DIR / f"{subscriber}.yaml", folder / f"{subscriber}.yaml")
    return folder


def test_dry_run_prune_and_validate_agree_with_apply(live_stack: object, unique: str, tmp_path: Path) -> None:
    settings = namespaced(unique, secrets_dir=tmp_path / "secrets")
    both = _folder(tmp_path, "both", "fuzhou-city", "credit-system")
    assert _pobi(settings, "subscriptions", "apply", "--contracts", str(both)).returncode == 0
    assert set(read_documents(settings)) == {"fuzhou-city", "credit-system"}

    one = _folder(tmp_path, "one", "credit-system")
    dry = _pobi(settings, "subscriptions", "apply", "--contracts", str(one), "--dry-run", "--prune")
    assert dry.returncode == 0 and "would be withdrawn fuzhou-city" in dry.stdout, dry.stdout
    assert set(read_documents(settings)) == {"fuzhou-city", "credit-system"}  # nothing changed

    kept = _pobi(settings, "subscriptions", "apply", "--contracts", str(one))
    assert kept.returncode == 0 and "kept fuzhou-city" in kept.stdout, kept.stdout
    assert set(read_documents(settings)) == {"fuzhou-city", "credit-system"}

    changed = _folder(tmp_path, "changed", "fuzhou-city", "credit-system")
    text = (changed / "fuzhou-city.yaml").read_text(encoding="utf-8")
    (changed / "fuzhou-city.yaml").write_text(text.replace('prefix: "3501"', 'prefix: "3502"'), encoding="utf-8")
    validated = _pobi(settings, "subscriptions", "validate", "--contracts", str(changed))
    assert validated.returncode == 3 and "version stayed at 1; raise it" in validated.stdout, validated.stdout
    refused = _pobi(settings, "subscriptions", "apply", "--contracts", str(changed))
    assert refused.returncode == 1 and "raise it" in refused.stderr

    pruned = _pobi(settings, "subscriptions", "apply", "--contracts", str(one), "--prune")
    assert pruned.returncode == 0 and "withdrawn fuzhou-city" in pruned.stdout
    assert set(read_documents(settings)) == {"credit-system"}
