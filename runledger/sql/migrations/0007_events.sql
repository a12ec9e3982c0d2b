-- The live event feed (GET /api/v1/events): transitions become visible in id order, and every
-- statement that inserts some tells listeners so.
--
-- Feed readers resume with "id > the last id I saw". An identity column alone does not make that
-- safe: concurrent writers draw ids when they insert but commit in any order, so a row with a
-- smaller id can become visible after a reader has already read past it, and would be skipped for
-- good. Hence `transitions_in_commit_order`: before a statement inserts transitions it takes a
-- transaction-scoped advisory lock, held until commit or rollback. A writer therefore draws its ids
-- only after the previous holder has committed (Postgres releases locks after the commit is
-- visible), so whenever a reader sees id N it already sees every committed id below N.
--
-- Lock key 8247619704435537010 = 0x72756E6C65647472, "runledtr" in ASCII; the migration lock
-- (runledger/metadata/migrations.py) uses "runledgr", so they never collide.
--
-- No deadlock: the writer (runledger/metadata/writer.py) inserts transitions as the last statement
-- of its transaction, so the holder of this lock waits on nothing but its own commit. Transactions
-- waiting for it may hold row locks on runs, steps or artifacts, but the holder needs none of
-- those. Two inserts of the same (run_id, step_id, to_phase, at) cannot wait on each other either:
-- the second one cannot start before the first committed. The price is that the tail of write
-- transactions (this insert and the commit) is serialised between writers.
--
-- `transitions_notify` sends one notification per statement on channel `runledger_transitions`
-- with the highest id it inserted. Rows are never sent in the payload (notifications are limited
-- to 8000 bytes): listeners read them by id. Postgres delivers notifications only at commit.

CREATE FUNCTION transitions_in_commit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(8247619704435537010);
    RETURN NULL;
END
$$;

CREATE TRIGGER transitions_in_commit_order
    BEFORE INSERT ON transitions
    FOR EACH STATEMENT EXECUTE FUNCTION transitions_in_commit_order();

CREATE FUNCTION transitions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    newest bigint;
BEGIN
    SELECT max(id) INTO newest FROM inserted;
    -- ON CONFLICT DO NOTHING may have inserted nothing: no one needs waking then.
    IF newest IS NOT NULL THEN
        PERFORM pg_notify('runledger_transitions', newest::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER transitions_notify
    AFTER INSERT ON transitions
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION transitions_notify();
