"""A batch that fails for a data reason is written run by run; when the database then refuses one
run (its disk full), that run and every run behind it in the batch go back to the queue and are
stored once writes succeed: none is dropped for having come after it."""

from __future__ import annotations

import asyncio

import pytest

from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from tests.support.builders import WorkflowBuilder
from tests.support.waiting import holds

# The bad run fails the batch for a data reason; alone, the refused one finds the disk full.
REFUSE = """
    CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.name = 'split-bad' THEN RAISE EXCEPTION 'bad run' USING ERRCODE = 'check_violation'; END IF;
        IF NEW.name = 'split-refused' THEN
            RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER refuse_writes BEFORE INSERT ON runs FOR EACH ROW EXECUTE FUNCTION refuse_writes();
"""
NAMES = {"a": "split-bad", "b": "split-refused", "c": "split-behind"}  # uids in the order the batch is written


def _events() -> list[WatchEvent]:
    return [WatchEvent.model_validate(WorkflowBuilder(name, uid=uid).phase("Succeeded").node(name, "Succeeded")
                                      .event("ADDED")) for uid, name in NAMES.items()]  # fmt: skip


@pytest.mark.parametrize("way_in", ["queued", "taken by an import"])
async def test_the_runs_behind_a_refused_run_are_stored_once_writes_succeed(pool, settings, conn, way_in):
    await conn.execute(REFUSE)
    one_writer = settings.updated(ingest={"batch_runs": 3, "workers": 1, "retry_max_seconds": 0.2})
    async with build_ingestor(pool=pool, settings=one_writer) as ingestor:
        if way_in == "queued":
            for event in _events():  # with no wait between: the one writer takes them as one batch
                await ingestor.submit(event)
        else:
            states = [ingestor.translate_event(event) for event in _events()]
            await ingestor.write_taken(await ingestor.take(states))
        await holds(lambda: ingestor.stats.errors["write_failed"] == 1 and ingestor.stats.db_retries >= 1)
        await conn.execute("DROP TRIGGER refuse_writes ON runs; DROP FUNCTION refuse_writes()")
        await asyncio.wait_for(ingestor.drain(), 30)
    stored = await conn.fetch("SELECT name FROM runs WHERE name LIKE 'split-%' ORDER BY name")
    assert [row["name"] for row in stored] == ["split-behind", "split-refused"]
