"""The folders are layers (cli > service > demo > api | backfill > ui > agent | indexer | kfp | openlineage > store | client > core), and the
store reads no HTTP request (query strings are parsed in the API); checked by import-linter with the
contracts in pyproject.toml, on the package as it is and on a copy with a forbidden import added."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
    )  # fmt: skip


def test_the_package_keeps_its_layers() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


FORBIDDEN = [  # (module that gains the import, the import, the chain import-linter reports)
    ("store/writer.py", "from runledger.api import app_keys", "runledger.store.writer -> runledger.api.app_keys"),
    ("agent/ingest.py", "from runledger.indexer import worker", "runledger.agent.ingest -> runledger.indexer.worker"),
    ("core/run_state.py", "from runledger.store import writer", "runledger.core.run_state -> runledger.store.writer"),
    ("api/app.py", "from runledger import service", "runledger.api.app -> runledger.service"),
    ("store/run_listing.py", "from multidict import MultiDictProxy", "runledger.store.run_listing -> multidict"),
    ("store/paging.py", "from aiohttp import web", "runledger.store.paging -> aiohttp"),
    ("client/session.py", "from runledger.store import read_models", "runledger.client.session -> runledger.store.read_models"),
    ("client/views.py", "from runledger.api import openapi", "runledger.client.views -> runledger.api.openapi"),
]


@pytest.mark.parametrize(("module", "statement", "chain"), FORBIDDEN, ids=[chain for _, _, chain in FORBIDDEN])
def test_a_forbidden_import_breaks_the_contract(tmp_path: Path, module: str, statement: str, chain: str) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copytree(ROOT / "runledger", tmp_path / "runledger", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "runledger" / module
    path.write_text(path.read_text() + f"\n{statement}  # noqa: E402\n")

    result = lint_imports(tmp_path)

    assert result.returncode != 0
    assert chain in result.stdout
