"""`runledger runs list | head -1`: when what reads the output goes away, the command stops without a word
on stderr (no "unexpected error: BrokenPipeError"), exiting as a process SIGPIPE ended (141)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.canned_http import canned_server


def test_a_command_writing_to_a_closed_pipe_exits_141_and_says_nothing():
    with canned_server({"runs": [], "next_page_token": None}) as server:
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before the first line is written
        try:
            done = subprocess.run([sys.executable, "-m", "runledger", "runs", "list", "--server", server.url],
                                  stdout=write_end, stderr=subprocess.PIPE, timeout=60,
                                  env={**os.environ, "KUBECONFIG": os.devnull})  # fmt: skip
        finally:
            os.close(write_end)
    assert (done.returncode, done.stderr) == (141, b"")
