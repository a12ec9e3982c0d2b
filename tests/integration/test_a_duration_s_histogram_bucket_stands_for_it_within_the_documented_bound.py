"""Every duration, from a millisecond to a year, read back as its rollup bucket's value is within the
documented bound: 4.4 % of it, or 0.5 s below one second."""

from __future__ import annotations

from runledger.store.pipeline_stats import PERCENTILE_ABSOLUTE_ERROR_S, PERCENTILE_RELATIVE_ERROR, bucket_value


async def test_each_bucket_s_value_is_within_the_bound_of_every_duration_it_holds(conn):
    rows = await conn.fetch(
        # float8 powers: numeric ones took most of the statement (seconds on a loaded machine).
        "SELECT v, stats_bucket(v::numeric) AS b FROM (SELECT 1.0001::float8 ^ k / 1000 AS v FROM generate_series(0, 240000) k) s"
    )
    assert len({r["b"] for r in rows}) > 190  # 8 a doubling over 25 doublings
    for r in rows:
        value, estimate = float(r["v"]), bucket_value(r["b"])
        bound = PERCENTILE_ABSOLUTE_ERROR_S if value < 1 else value * PERCENTILE_RELATIVE_ERROR
        assert abs(estimate - value) <= bound * (1 + 1e-9), (value, r["b"], estimate)
