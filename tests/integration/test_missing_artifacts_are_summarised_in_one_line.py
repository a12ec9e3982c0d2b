"""Objects missing in S3 are summed up in one INFO line once the queue drains, not one line each."""

from __future__ import annotations

import logging

from tests.support.artifacts import index_everything, kfp_step_workflow
from tests.support.ingesting import ingest
from tests.support.s3 import s3_settings


async def test_missing_objects_make_one_summary_line_and_debug_lines_each(pool, s3, s3_objects, tmp_path, caplog):
    settings = s3_settings(s3, tmp_path)
    await s3_objects.put("mlpipeline", "present/model.bin", b"here")
    outputs = {f"gone{i}": f"gone/{i}.bin" for i in range(5)} | {"model": "present/model.bin"}
    await ingest(pool, settings, [kfp_step_workflow("quiet", outputs)])
    caplog.set_level(logging.DEBUG, logger="runledger.indexer")
    await index_everything(pool, settings)
    info = [r.getMessage() for r in caplog.records if r.name.startswith("runledger.indexer") and r.levelno >= logging.INFO]
    assert info == ["5 artifact(s) missing in S3 (see GET /api/v1/artifacts?state=missing)"]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG and "is missing" in r.getMessage()]
    assert len(debug) == 5
