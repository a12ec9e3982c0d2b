"""A query command is a process of its own that lives a fraction of a second: it imports the client,
never the service, the store, the API or their libraries (asyncpg, aiohttp)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SERVER_SIDE = ("runledger.service", "runledger.api", "runledger.store", "runledger.agent", "runledger.indexer",
               "runledger.core.settings", "asyncpg", "aiohttp", "aiobotocore", "kubernetes_asyncio")  # fmt: skip
PROGRAM = """
import json, sys
from runledger.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize("argv", [["runs", "list"], ["runs", "get", "ml/wf"], ["logs", "ml/wf", "--follow"],
                                  ["lineage", "ml/wf"], ["artifacts", "list"], ["compare", "a", "b"]],
                         ids=" ".join)  # fmt: skip
def test_a_query_command_runs_to_its_end_without_importing_the_server_side(argv: list[str]) -> None:
    # Nothing listens at port 1: the command goes through its whole path up to the request and fails there.
    done = subprocess.run([sys.executable, "-c", PROGRAM, *argv, "--server", "http://127.0.0.1:1"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["code"] == 1 and "cannot reach http://127.0.0.1:1" in done.stderr
    imported = [m for m in result["modules"] if m.split(".")[0] in SERVER_SIDE or m.startswith(SERVER_SIDE)]
    assert imported == []
