"""A query command is a process of its own that lives a fraction of a second: it imports the client,
never the service, the store, the API or their libraries (asyncpg, aiohttp), nor what the client left
behind to start faster (asyncio and h11 for its HTTP, pydantic for its models)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SERVER_SIDE = ("runledger.service", "runledger.api", "runledger.store", "runledger.agent", "runledger.indexer",
               "runledger.core.settings", "asyncpg", "aiohttp", "aiobotocore", "kubernetes_asyncio")  # fmt: skip
LEFT_BEHIND = ("asyncio", "h11", "pydantic", "pydantic_core")
PROGRAM = """
import json, sys
from runledger.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize("argv", [["runs", "list"], ["runs", "list", "-w"], ["runs", "get", "ml/wf"],
                                  ["logs", "ml/wf", "--follow"], ["lineage", "ml/wf"], ["artifacts", "list"],
                                  ["artifacts", "get", "1"], ["compare", "a", "b"], ["stats"]],
                         ids=" ".join)  # fmt: skip
def test_a_query_command_runs_to_its_end_without_importing_the_server_side(argv: list[str]) -> None:
    # Nothing listens at port 1: the command goes through its whole path up to the request and fails there.
    done = subprocess.run([sys.executable, "-c", PROGRAM, *argv, "--server", "http://127.0.0.1:1"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "KUBECONFIG": os.devnull})  # fmt: skip
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["code"] == 1 and "cannot reach http://127.0.0.1:1" in done.stderr
    imported = [m for m in result["modules"] if m.split(".")[0] in SERVER_SIDE or m.startswith(SERVER_SIDE)]
    assert imported == []
    assert [m for m in result["modules"] if m.split(".")[0] in LEFT_BEHIND] == []
