"""The shell examples of the documentation, read from the Markdown and run as a reader would run them.

A documented request that answers with an empty list teaches nothing, so the examples are run against
the demo `make run` serves and each must come back with data. The reader's lines are taken as they are:
`NAME=$(...)` lines set a variable the following lines use, `curl` lines are the examples.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED_ADDRESS = "127.0.0.1:8080"
_ASSIGNMENT = re.compile(r"^([A-Z_]+)=\$\(")


@dataclass(frozen=True)
class Example:
    line: str

    @property
    def assigns(self) -> str | None:
        match = _ASSIGNMENT.match(self.line)
        return match[1] if match else None

    @property
    def streams(self) -> bool:
        return self.line.startswith("curl -sN")


def shell_examples(document: Path, *, after_heading: str) -> list[Example]:
    """The lines of the first ```sh block below the heading, comments left out."""
    text = document.read_text(encoding="utf-8")
    start = text.index(f"\n{after_heading}\n")
    block = re.search(r"^```sh\n(.*?)^```$", text[start:], re.MULTILINE | re.DOTALL)
    assert block, f"no sh block under {after_heading!r} in {document}"
    lines = [line.strip() for line in block[1].splitlines()]
    return [Example(line) for line in lines if line and not line.startswith("#")]


async def run(example: Example, *, port: int, variables: dict[str, str]) -> str:
    """What the line prints (for an assignment: the value it assigns) against the API on `port`."""
    line = example.line.replace(DOCUMENTED_ADDRESS, f"127.0.0.1:{port}")
    if example.assigns:
        line = f'{line}; printf %s "${example.assigns}"'
    if example.streams:  # an event stream never ends by itself: read what it sends for a while
        line = line.replace("curl -sN", "curl -sN --max-time 3", 1)
    proc = await asyncio.create_subprocess_exec(
        "bash", "-c", line, env={**os.environ, **variables},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return out.decode()


def holds_data(output: str, *, plain_text: bool = False) -> bool:
    """A JSON answer with something in it (not an error, no empty list), SSE events, or Prometheus samples;
    with `plain_text` (a step's log), any text that is not a JSON error."""
    try:
        body = json.loads(output)
    except ValueError:
        if plain_text:
            return bool(output.strip())
        lines = output.splitlines()
        return any(line.startswith("data:") for line in lines) or any(
            line.startswith("runledger_") for line in lines
        )
    if not isinstance(body, dict) or not body or isinstance(body.get("error"), dict):
        return False
    lists = [value for value in body.values() if isinstance(value, list)]
    return any(lists) if lists else True
