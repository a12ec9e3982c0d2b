"""A seeded API served from a thread of its own, for blocking clients (requests, schemathesis).

Blocking clients cannot share the test's event loop with the server they call, so the server, its
pool and the seeding run on a loop in a background thread. The data is every real fixture plus a
few KFP-style runs whose artifacts live in moto's S3 and are indexed (metrics, a run reading another
run's model, a step's archived log), so every endpoint has something real to answer with.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

from aiohttp import web

from runledger.service import build_app
from runledger.store import connection as db
from tests.support.artifacts import index_everything, kfp_step_workflow
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import ingest
from tests.support.logs import logging_workflow
from tests.support.loop_thread import LoopThread
from tests.support.postgres import create_database
from tests.support.real_objects import fixture_files
from tests.support.s3 import MotoServer, S3Objects, argo_tgz, s3_settings
from tests.support.workflows import load

ACCURACY = {"alpha": 0.91, "beta": 0.72, "gamma": 0.95}


def _reader(name: str, key: str) -> dict:
    wf = WorkflowBuilder(name=name)
    wf.node(f"{name}-eval", "Succeeded", inputs={"artifacts": [
        {"name": "model", "path": "/tmp/model", "s3": {"bucket": "mlpipeline", "key": key, "endpoint": "minio-service.kubeflow:9000"}},
    ]})  # fmt: skip
    return wf.phase("Succeeded").event()


async def seed_api_data(dsn: str, moto: MotoServer, tmp_path: Path) -> None:
    """Every real fixture and the KFP-style runs above, ingested and indexed into `dsn`."""
    settings = s3_settings(SimpleNamespace(url=moto.url), tmp_path)
    events = [{"type": "ADDED", "object": load(p)} for p in fixture_files()]
    async with S3Objects(moto.url) as objects:
        for run, accuracy in ACCURACY.items():
            metrics = {"metrics": [{"name": "accuracy", "numberValue": accuracy, "format": "PERCENTAGE"}]}
            await objects.put("mlpipeline", f"runs/{run}/metrics.tgz", argo_tgz("m.json", json.dumps(metrics).encode()))
            await objects.put("mlpipeline", f"runs/{run}/model.bin", run.encode() * 10)
            outputs = {"mlpipeline-metrics": f"runs/{run}/metrics.tgz", "model": f"runs/{run}/model.bin"}
            events.append(kfp_step_workflow(run, outputs, params={"lr": "0.1" if run != "beta" else "0.01"}))
    events.append(_reader("reader", "runs/gamma/model.bin"))
    async with S3Objects(moto.url) as objects:
        await objects.put("my-bucket", "logs/logged/main.log", b"epoch 1\nepoch 2\n")
    events.append(logging_workflow("logged", {"logged-train": "logs/logged/main.log"}))
    pool = await db.create_pool(dsn, database=settings.database)
    try:
        await ingest(pool, settings, events)
        await index_everything(pool, settings)
    finally:
        await pool.close()


@contextlib.contextmanager
def seeded_api(*, server_uri: str, template: str, moto: MotoServer, tmp_path: Path) -> Iterator[str]:
    """The base URL of an API over a fresh database holding the seed data."""
    moto.reset()
    thread = LoopThread()
    try:
        dsn = thread.run(create_database(server_uri, template=template))
        thread.run(seed_api_data(dsn, moto, tmp_path))

        async def start() -> web.AppRunner:
            settings = s3_settings(SimpleNamespace(url=moto.url), tmp_path)
            runner = web.AppRunner(build_app(settings=settings, dsn=dsn), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            return runner

        runner = thread.run(start())
        try:
            host, port = runner.addresses[0][:2]
            yield f"http://{host}:{port}"
        finally:
            thread.run(runner.cleanup())
    finally:
        thread.close()
