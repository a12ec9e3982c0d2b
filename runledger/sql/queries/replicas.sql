-- Reading from hot standbys (runledger/store/read_routing.py). Positions are WAL positions: the
-- primary's flushed WAL is what it streams, a standby's replay position is what its readers see.

-- name: primary_wal_position
SELECT pg_current_wal_flush_lsn();

-- name: primary_insert_position
-- Past every commit already reported, flushed or not (synchronous_commit = off reports before the
-- flush): what the event feed waits for a standby to replay before it reads there.
SELECT pg_current_wal_insert_lsn();

-- name: standby_position
-- A standby's own view: whether it still replays, where it is, and, for when the primary does not
-- answer, how old it is by itself: current once it has replayed all it received, else as old as the
-- last transaction it replayed. (A standby that lost its primary receives nothing more and then
-- reads as current, which it is as long as nothing else is written.)
SELECT pg_is_in_recovery() AS standby,
       pg_last_wal_replay_lsn() AS replayed,
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0
            ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8
       END AS own_lag_seconds;

-- name: standby_is_fresh
-- Checked first in a snapshot on a standby (a second round trip: begin_snapshot, one simple query,
-- returns no rows): still in recovery (not promoted), and replayed past $1 (the primary's position
-- one lag bound ago, or what the read must see); without $1 (the primary is not answering), by its
-- own view, within $2 seconds.
SELECT pg_is_in_recovery() AS standby,
       pg_is_in_recovery() AND CASE
           WHEN $1::pg_lsn IS NOT NULL THEN pg_last_wal_replay_lsn() >= $1::pg_lsn
           ELSE pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                OR clock_timestamp() - pg_last_xact_replay_timestamp() <= make_interval(secs => $2::float8)
       END AS fresh;

-- name: replayed_past
-- Whether this standby has replayed past $1 yet (the primary counts as there).
SELECT NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= $1::pg_lsn;
