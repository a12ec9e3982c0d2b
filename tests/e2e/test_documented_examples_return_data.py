"""The curl examples of README.md and docs/api.md, run against the demo `runledger run` serves, each return data."""

from __future__ import annotations

import aiohttp

from tests.support.doc_examples import ROOT, holds_data, run, shell_examples
from tests.support.processes import free_port, running, stopped, until_demo_indexed

README = shell_examples(ROOT / "README.md", after_heading="## What you see after `make run`")
API = shell_examples(ROOT / "docs" / "api.md", after_heading="## Every endpoint, with an example")


async def test_every_readme_and_api_example_returns_data_on_the_demo(dsn):
    assert len([e for e in README if not e.assigns]) >= 3, "the README shows a few examples"
    port = free_port()
    env = {"RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_API_PORT": str(port)}
    async with running("run", env=env, capture=True) as proc:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            await until_demo_indexed(http)
        empty = []
        for examples in (README, API):
            variables: dict[str, str] = {}
            for example in examples:
                output = await run(example, port=port, variables=variables)
                if example.assigns:
                    variables[example.assigns] = output
                    if not output:
                        empty.append(example.line)
                elif not holds_data(output, plain_text="/logs" in example.line):
                    empty.append(f"{example.line}\n  -> {output[:200]!r}")
        assert not empty, "examples without data:\n" + "\n".join(empty)
        _, err = await stopped(proc)
        assert proc.returncode == 0, err[-2000:]
