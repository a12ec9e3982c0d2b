"""The demo's wiring: the bundled recording, and an S3 (moto) holding the objects it names.

``runledger run`` with no cluster and no replay files replays the bundled recording; when artifacts
are indexed and no endpoint map says otherwise, the indexer and the API (step logs, previews) are
led to a moto server serving the objects the recording refers to (see ``objects``).
"""

from __future__ import annotations

import contextlib
from importlib import resources
from pathlib import Path

from pydantic import SecretStr

from runledger.agent.replay import ReplayErrors, read_events
from runledger.api.app_keys import ObjectStoreSlot
from runledger.core.lifecycle import Service
from runledger.core.artifact_locations import RepositoryRegistry
from runledger.core.settings import ReplaySettings, Settings
from runledger.demo.recording_objects import (
    DEMO_ACCESS_KEY,
    DEMO_SECRET_KEY,
    EmbeddedS3,
    demo_objects,
)
from runledger.indexer.s3 import ObjectStore


def bundled_recording() -> Path:
    return Path(str(resources.files("runledger.demo") / "recording.jsonl.gz"))


def replayed_paths(replay: ReplaySettings) -> list[Path]:
    """What the replay source of `runledger run` replays: RUNLEDGER_REPLAY_FILES, else the bundled recording."""
    return replay.paths or [bundled_recording()]


def wants_demo_artifact_store(settings: Settings) -> bool:
    """The bundled recording is replayed, artifacts are indexed, and nothing says where they are."""
    return not settings.replay.paths and settings.artifacts.index and not settings.artifacts.endpoint_map


async def enter_demo_artifact_store(
    stack: contextlib.AsyncExitStack, settings: Settings, paths: list[Path], *, object_store: ObjectStoreSlot,
    announce=print,
) -> tuple[Settings, list[Service]]:  # fmt: skip
    """When the demo wants its S3: moto started on `stack` holding the objects the recording names, the
    API's `object_store` led there; the settings that lead the indexer there, and [the S3 server].
    Otherwise the settings as they are, and []."""
    if not wants_demo_artifact_store(settings):
        return settings, []
    try:
        import moto.server  # noqa: F401
    except ImportError:
        announce("runledger: artifacts are not indexed in the demo: moto is not installed (pip install 'runledger[demo]')")
        return settings.updated(artifacts={"index": False}), []
    errors = ReplayErrors()
    registry = RepositoryRegistry(default=settings.artifacts.repository, named=settings.artifacts.repositories)
    events = [event for path in paths for event in read_events(path, errors)]
    objects, endpoints = demo_objects(events, repositories=registry)
    s3 = await stack.enter_async_context(EmbeddedS3(objects))
    announce(f"runledger: demo S3 (moto) on {s3.url} holding {len(objects)} objects the recording refers to")
    settings = settings.updated(artifacts={
        "endpoint_map": {endpoint: s3.url for endpoint in endpoints},
        "access_key_id": SecretStr(DEMO_ACCESS_KEY), "secret_access_key": SecretStr(DEMO_SECRET_KEY),
    })  # fmt: skip
    await object_store.replace(ObjectStore(artifacts=settings.artifacts))  # step logs and previews read it too
    return settings, [s3]
