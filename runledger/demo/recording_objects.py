"""The S3 side of the demo: the objects the bundled recording refers to, served by moto.

``runledger run`` without a cluster replays the bundled recording; so that its artifacts index to
something real, this module derives every output object the recording's final states name — KFP
metrics files and UI metadata as Argo archives them (gzipped tar, one member), logs, data — and
serves them from moto's S3 server in a child process. A few objects are left out on purpose, so the
demo shows what a missing object looks like.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from runledger.agent.translate import TranslationError, translate_workflow
from runledger.core.lifecycle import Service
from runledger.core.run_state import RunState, Step, WatchEvent
from runledger.core.artifact_locations import RepositoryRegistry

DEMO_ACCESS_KEY = "runledger-demo"
DEMO_SECRET_KEY = "runledger-demo-secret"
MISSING_EVERY = 23  # one object in this many is never uploaded
UPLOADS_IN_FLIGHT = 8  # within botocore's default pool of 10 connections


@dataclass(frozen=True)
class DemoObject:
    bucket: str
    key: str
    body: bytes


def demo_objects(
    events: Iterable[WatchEvent], *, repositories: RepositoryRegistry | None = None
) -> tuple[list[DemoObject], set[str]]:
    """The objects the final states of `events` produced, with plausible contents, and their endpoints."""
    final: dict[str, RunState] = {}
    for event in events:
        try:
            state = translate_workflow(event.object, repositories=repositories)
        except TranslationError:
            continue
        final[state.run.id] = state
    objects: dict[tuple[str, str], DemoObject] = {}
    endpoints: set[str] = set()
    for state in final.values():
        outputs = {(p.step_id, p.name): p.value for p in state.parameters if p.direction == "output"}
        steps = {s.id: s for s in state.steps}
        for ref in state.artifacts:
            if ref.s3_endpoint:
                endpoints.add(ref.s3_endpoint)
            if ref.direction != "output" or not ref.s3_bucket or not ref.s3_key:
                continue
            where = (ref.s3_bucket, ref.s3_key)
            if where in objects or _digest(ref.s3_key) % MISSING_EVERY == 0:
                continue
            score = next((_number(v) for (step, _), v in outputs.items() if step == ref.step_id and _number(v)), None)
            if ref.s3_key.endswith(".log") and ref.step_id in steps:
                body = _log(steps[ref.step_id], seed=_digest(ref.s3_key))
            else:
                body = _content(ref.name, ref.s3_key, score)
            objects[where] = DemoObject(ref.s3_bucket, ref.s3_key, body)
    return list(objects.values()), endpoints


def _content(name: str, key: str, score: float | None) -> bytes:
    seed = _digest(key)
    if name == "mlpipeline-metrics":
        accuracy = score if score is not None else 0.75 + (seed % 2000) / 10_000
        metrics = [
            {"name": "accuracy", "numberValue": round(accuracy, 4), "format": "PERCENTAGE"},
            {"name": "loss", "numberValue": round(1.2 * (1 - accuracy), 4), "format": "RAW"},
        ]
        return argo_archive("mlpipeline-metrics.json", orjson.dumps({"metrics": metrics}))
    if name == "mlpipeline-ui-metadata":
        outputs = [{"type": "markdown", "storage": "inline", "source": f"# Training report\n\nmodel `{key}`"}]
        return argo_archive("mlpipeline-ui-metadata.json", orjson.dumps({"outputs": outputs}))
    return argo_archive("data", hashlib.sha256(key.encode()).digest() * (seed % 4000 + 1))


def _log(step: Step, *, seed: int) -> bytes:
    """What a step of the demo printed: its work, and for a failed step the error that ended it."""
    name, template = step.display_name or step.name, step.template or "main"
    lines = [f"time=\"2025-03-03T09:00:00Z\" level=info msg=\"starting {template}\" step={name}"]
    lines += [f"{template}: processed batch {i} of {seed % 200 + 5}" for i in range(1, seed % 200 + 6)]
    if step.phase in ("Failed", "Error"):
        lines += [
            "Traceback (most recent call last):",
            f'  File "/app/{template}.py", line {seed % 300 + 20}, in <module>',
            "    main()",
            f"RuntimeError: {template} could not finish: {step.message or 'exit code 1'}",
        ]
    else:
        lines.append(f"{template}: done")
    return ("\n".join(lines) + "\n").encode()


def argo_archive(member: str, content: bytes) -> bytes:
    """`content` as Argo archives an output file: a gzipped tar holding one member."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and 0 < number < 1 else None


class EmbeddedS3(Service):
    """moto's S3 server on 127.0.0.1 holding `objects`, in a child process: ``async with`` starts and
    fills it (its URL in ``url``); a process that ends while in use fails the part; leaving stops it."""

    name = "demo s3"
    grace = 0.0

    def __init__(self, objects: list[DemoObject]) -> None:
        super().__init__()
        self._objects = objects
        self._process: subprocess.Popen | None = None
        self.url = ""

    async def _start(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await asyncio.to_thread(_wait_until_up, self.url, self._process)
        await _upload(self.url, self._objects)
        self.spawn(self._running(self._process), name="demo-s3-process")

    @staticmethod
    async def _running(process: subprocess.Popen) -> None:
        code = await asyncio.to_thread(process.wait)
        raise RuntimeError(f"the demo S3 server (moto) exited with code {code}")

    async def _close(self) -> None:
        if self._process is not None:
            self._process.terminate()
            await asyncio.to_thread(self._process.wait, 10)
            self._process = None


async def _upload(url: str, objects: list[DemoObject]) -> None:
    from aiobotocore.session import get_session

    async with get_session().create_client(
        "s3", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=DEMO_ACCESS_KEY, aws_secret_access_key=DEMO_SECRET_KEY,
    ) as s3:  # fmt: skip
        for bucket in sorted({o.bucket for o in objects}):
            await s3.create_bucket(Bucket=bucket)
        # A few puts in flight: one at a time, a benchmark's thousands of objects wait on round trips.
        uploads = asyncio.Semaphore(UPLOADS_IN_FLIGHT)

        async def put(obj: DemoObject) -> None:
            async with uploads:
                await s3.put_object(Bucket=obj.bucket, Key=obj.key, Body=obj.body)

        await asyncio.gather(*(put(obj) for obj in objects))


def _wait_until_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the demo S3 server (moto) did not start") from None
            time.sleep(0.1)
