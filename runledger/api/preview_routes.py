"""Artifact previews: GET /api/v1/artifacts/{artifact_id}/preview, from the object's first bytes in S3.

One ranged GET of at most RUNLEDGER_API_PREVIEW_MAX_BYTES, whatever the object's size, turned into
text, indented JSON, CSV rows or an archive's member list by runledger.indexer.previewing. Binary
content is never echoed. Visibility is the artifact detail's: an artifact no readable step produced
or consumed is not found.
"""

from __future__ import annotations

import asyncpg
from aiohttp import web
from pydantic import Field

from runledger.api import auth, app_keys
from runledger.api.responses import model_response, s3_failures_answered
from runledger.api.snapshot import read
from runledger.api.step_log_routes import location_of
from runledger.indexer.previewing import Preview, preview
from runledger.store import artifact_listing as repo


class ArtifactPreview(Preview):
    artifact_id: int
    uri: str
    size: int = Field(description="The object's size in bytes, as S3 reports it now.")
    read_bytes: int = Field(description="Bytes read from S3 for this preview (a Range GET from the start).")


async def artifact_preview(request: web.Request) -> web.Response:
    artifact_id = request.match_info["artifact_id"]
    visible = await auth.visible_namespaces(request)

    async def work(conn: asyncpg.Connection):
        found = await repo.get_artifact(conn, artifact_id, namespaces=visible)
        return await repo.artifact_location(conn, found.id) if found is not None else None

    stored = await read(request, work, filters=False)
    if stored is None:
        raise web.HTTPNotFound(reason="no artifact with this id")
    cap = request.app[app_keys.API_SETTINGS].preview_max_bytes
    with s3_failures_answered(what=f"artifact {stored.artifact_id}", uri=stored.uri):
        part, data = await request.app[app_keys.OBJECT_STORE].store.read_range(location_of(stored), first=0, last=cap - 1)
    shown = preview(data, name=stored.key, complete=len(data) >= part.size, max_shown=cap,
                    content_type=part.content_type)  # fmt: skip
    return model_response(ArtifactPreview(**shown.model_dump(), artifact_id=stored.artifact_id, uri=stored.uri,
                                          size=part.size, read_bytes=len(data)))  # fmt: skip


def add_routes(app: web.Application) -> None:
    # Before /api/v1/artifacts/{ref:.+}, which would take ".../preview" as part of an s3:// URI.
    app.router.add_get(r"/api/v1/artifacts/{artifact_id:\d+}/preview", artifact_preview)
