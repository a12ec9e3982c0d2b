-- The OpenLineage outbox: one row per transition to be sent as an OpenLineage run event.
--
-- The writer inserts a row in the same statement (and so the same transaction) as the transition it
-- stands for, only while export is configured: a phase change is never stored without its event, nor
-- an event queued for a change that rolled back. Keyed by the transition, so a replay, a retried batch
-- or `runledger openlineage backfill` never queues an event twice. The sender reads rows in
-- transition id order, which is the order a run's (and a step's) phases were stored in, renders each
-- event from the stored run, step, artifacts and metrics, and marks it sent once the endpoint
-- acknowledged it; a restart resumes with what is not marked.
CREATE TABLE openlineage_outbox (
    transition_id bigint PRIMARY KEY,
    run_id        text NOT NULL,
    queued_at     timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    sent_at       timestamptz,
    refused_at    timestamptz  -- the endpoint refused it as malformed (4xx): never sent again
);

-- What is left to send, in order: small however long the history sent already is.
CREATE INDEX openlineage_outbox_unsent ON openlineage_outbox (transition_id)
    WHERE sent_at IS NULL AND refused_at IS NULL;
