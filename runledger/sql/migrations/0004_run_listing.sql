-- Sort keys and indexes for run listings: every sort is a keyset over (key, id) on an index.
-- Runs without a finish time (still running) get -infinity: last when newest come first.

ALTER TABLE runs
    ADD COLUMN duration_seconds double precision
        GENERATED ALWAYS AS (extract(epoch FROM (finished_at - started_at))::double precision) STORED,
    ADD COLUMN finished_sort timestamptz
        GENERATED ALWAYS AS (coalesce(finished_at, '-infinity'::timestamptz)) STORED,
    ADD COLUMN duration_sort double precision
        GENERATED ALWAYS AS (coalesce(extract(epoch FROM (finished_at - started_at))::double precision,
                                      '-Infinity'::double precision)) STORED;

CREATE INDEX runs_by_finished ON runs (finished_sort DESC, id DESC);
CREATE INDEX runs_by_duration ON runs (duration_sort DESC, id DESC);
CREATE INDEX runs_by_name ON runs (name, id);
CREATE INDEX runs_by_scheduled_workflow ON runs (scheduled_workflow, sort_at DESC, id DESC)
    WHERE scheduled_workflow IS NOT NULL;
CREATE INDEX runs_by_labels ON runs USING gin (labels);
