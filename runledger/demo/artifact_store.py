"""The demo's wiring: the bundled recording, and an S3 (moto) holding the objects it names.

``runledger run`` with no cluster and no replay files replays the bundled recording; when artifacts
are indexed and no endpoint map says otherwise, the indexer is led to a moto server serving the
objects the recording refers to (see ``recording_objects``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

from pydantic import SecretStr

from runledger.agent.replay import ReplayErrors, read_events
from runledger.core.artifact_locations import RepositoryRegistry
from runledger.core.settings import Settings
from runledger.demo.recording_objects import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, demo_objects, embedded_s3


def bundled_recording() -> Path:
    return Path(str(resources.files("runledger.demo") / "recording.jsonl.gz"))


def wants_demo_artifact_store(settings: Settings) -> bool:
    """The bundled recording is replayed, artifacts are indexed, and nothing says where they are."""
    return not settings.replay.paths and settings.artifacts.index and not settings.artifacts.endpoint_map


@contextlib.asynccontextmanager
async def demo_artifact_store(settings: Settings, paths: list[Path], *, announce=print) -> AsyncIterator[Settings]:
    """Serve the objects the demo recording names from moto, and settings that lead the indexer there."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        announce("runledger: artifacts are not indexed in the demo: moto is not installed (pip install 'runledger[demo]')")
        yield settings.updated(artifacts={"index": False})
        return
    errors = ReplayErrors()
    registry = RepositoryRegistry(default=settings.artifacts.repository, named=settings.artifacts.repositories)
    events = [event for path in paths for event in read_events(path, errors)]
    objects, endpoints = demo_objects(events, repositories=registry)
    async with embedded_s3(objects) as url:
        announce(f"runledger: demo S3 (moto) on {url} holding {len(objects)} objects the recording refers to")
        yield settings.updated(artifacts={"endpoint_map": {endpoint: url for endpoint in endpoints}, "access_key_id": SecretStr(DEMO_ACCESS_KEY), "secret_access_key": SecretStr(DEMO_SECRET_KEY)})
