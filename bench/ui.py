"""Web UI benchmark: what a person waits for in a real browser, beside the raw API call for the same data.

One command (`python -m bench.ui`): an embedded Postgres loaded with synthetic runs (bench.query_data,
100,000 by default) plus one 5,000-pod fan-out run (bench.workflow_events) written by the real
ingest path, `runledger api` in a subprocess, and headless Chromium (Debian's, driven by playwright):

* runs page, first rows: from navigation to the first row of /ui/ in the DOM (fresh tab each time,
  so the shell, the modules and the API call are all in it), for the default list and a filtered,
  metric-sorted one; baseline: the same /api/v1/runs request from Python, and from the page's fetch;
* the 5,000-step run page: from navigation until the canvas holds the laid-out graph and the step
  panel and timeline are drawn; baseline: the run and steps requests it makes, from Python.

Targets: first rows < 1 s, the 5,000-step page < 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from bench import query_load
from bench.queries import DATABASE, start_api, stop_api
from bench.query_data import Shape
from bench.workflow_events import fanout_events
from runledger.core.run_state import WatchEvent
from runledger.core.settings import Settings
from runledger.service import build_ingestor
from runledger.store import connection as db

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
FANOUT = 5000
DRAWN = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


async def add_fanout(dsn: str) -> str:
    """Ingest one 5,000-pod fan-out run (its last state) through the real ingest path; its run id."""
    event = list(fanout_events(nodes=FANOUT))[-1]
    settings = Settings()
    pool = await db.create_pool(dsn, database=settings.database)
    try:
        async with build_ingestor(pool=pool, settings=settings, track_runs=True) as ingestor:
            await ingestor.submit(WatchEvent.model_validate(event))
            await ingestor.drain()
        meta = event["object"]["metadata"]
        return await pool.fetchval("SELECT id FROM runs WHERE namespace = $1 AND name = $2", meta["namespace"], meta["name"])
    finally:
        await pool.close()


async def api_times(base: str, paths: list[str], repeat: int) -> list[float]:
    """Wall time of fetching every one of `paths` (in parallel, as the page does), `repeat` times."""
    out = []
    async with aiohttp.ClientSession(base) as http:

        async def one(path: str) -> None:
            async with http.get(path) as resp:
                assert resp.status == 200, (path, resp.status)
                await resp.read()

        for _ in range(repeat + 1):
            started = time.perf_counter()
            await asyncio.gather(*(one(p) for p in paths))
            out.append(time.perf_counter() - started)
    return out[1:]  # the first one warms the connection and the server's caches


# When the page had its API answers (resource timing; the event feed never ends, so it is left out).
API_DONE = """Math.max(0, ...performance.getEntriesByType("resource")
  .filter((e) => e.name.includes("/api/v1/") && !e.name.includes("/api/v1/events")).map((e) => e.responseEnd)) / 1000"""


async def page_times(browser, url: str, ready, repeat: int) -> tuple[list[float], list[float], list[float]]:  # noqa: ANN001
    """Per repetition: the wall time seen from here (a fresh tab's process start included), the
    page's own time since its navigation started (performance.now() when `ready`), and when within
    that the last API answer had arrived."""
    out, inside, answered = [], [], []
    for i in range(repeat + 1):
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        started = time.perf_counter()
        await page.goto(url, wait_until="commit")
        await ready(page)
        elapsed = time.perf_counter() - started
        since_navigation = await page.evaluate("performance.now()") / 1000
        api_done = await page.evaluate(API_DONE)
        await context.close()
        if errors:
            raise RuntimeError(f"{url}: {errors}")
        if i:
            out.append(elapsed)
            inside.append(since_navigation)
            answered.append(api_done)
    return out, inside, answered


async def in_page_fetch(browser, base: str, path: str, repeat: int) -> list[float]:  # noqa: ANN001
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(base + "/ui/nowhere")  # any page of the origin: fetch() then goes the way the UI's does
    times = await page.evaluate(
        """async ([path, n]) => { const out = [];
           for (let i = 0; i <= n; i++) { const t = performance.now(); const r = await fetch(path); await r.json();
             out.push((performance.now() - t) / 1000); }
           return out.slice(1); }""",
        [path, repeat],
    )
    await context.close()
    return times


def summary(name: str, times: list[float] | tuple[list[float], list[float], list[float]], target: float | None = None) -> str:
    wall, inside, answered = times if isinstance(times, tuple) else (times, None, None)
    line = f"{name:<52} median {statistics.median(wall) * 1000:6.0f} ms  max {max(wall) * 1000:6.0f} ms"
    if inside is not None:
        line += f"  | in page: median {statistics.median(inside) * 1000:6.0f} ms  max {max(inside) * 1000:6.0f} ms"
        line += ("  meets" if statistics.median(inside) < target else "  MISSES") + f" < {target:.0f} s"
        line += f"  (API answered by {statistics.median(answered) * 1000:.0f} ms)"
    return line + f"  (n={len(wall)})"


async def first_row(page) -> None:  # noqa: ANN001
    await page.locator("table.runs tbody tr").first.wait_for()


async def graph_drawn(page) -> None:  # noqa: ANN001
    await page.locator(".graph canvas").wait_for(timeout=60_000)
    await page.locator("aside.panel").wait_for()
    await page.locator(".gantt svg").wait_for()
    await page.evaluate(DRAWN)  # the canvas is painted on the next animation frame


async def main_async(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    shape = Shape(total=args.runs, steps_per_run=args.steps_per_run)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="runledger-bench-ui-"))
    admin_dsn = await asyncio.to_thread(query_load.start_embedded, root / "pgdata", keep=bool(args.keep))
    await query_load.set_durability(admin_dsn, query_load.LOAD_ONLY)
    try:
        dsn, load = await query_load.ensure_dataset(admin_dsn, DATABASE, shape, workers=args.workers, chunk_runs=2000)
        started = time.perf_counter()
        run_id = await add_fanout(dsn)
        fanout_seconds = time.perf_counter() - started
    finally:
        await query_load.set_durability(admin_dsn, query_load.DURABLE)
    print(f"dataset: {shape.total:,} runs x {shape.steps_per_run} steps ({'reused' if load.reused else 'loaded'} in "
          f"{load.seconds:.0f} s), plus a {FANOUT:,}-pod fan-out run ingested in {fanout_seconds:.1f} s; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)  # fmt: skip
    proc, base = await start_api(dsn)
    baseline = await start_api(dsn, source=Path(args.baseline).resolve()) if args.baseline else None
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                n = args.repeat
                run = f"/api/v1/runs/{run_id}"
                filtered = "phase=Succeeded&metric.accuracy>=0.8&sort=-metric.accuracy"
                print(f"{'':52} wall time from here{'':14}| since the page's navigation start", flush=True)
                lines = []
                if baseline is not None:
                    # The run page and the runs page, the baseline checkout's and this one's in turn, under the same load.
                    other = baseline[1]
                    for k in range(2):
                        lines += [
                            summary(f"API  run + steps, baseline checkout [{k}]", await api_times(other, [run, f"{run}/steps"], n)),
                            summary(f"API  run + steps, this checkout [{k}]", await api_times(base, [run, f"{run}/steps"], n)),
                            summary(f"UI   run page, baseline checkout [{k}]", await page_times(browser, f"{other}/ui/runs/{run_id}", graph_drawn, n), 2),
                            summary(f"UI   run page, this checkout [{k}]", await page_times(browser, f"{base}/ui/runs/{run_id}", graph_drawn, n), 2),
                            summary(f"UI   /ui/ first rows, baseline checkout [{k}]", await page_times(browser, f"{other}/ui/", first_row, n), 1),
                            summary(f"UI   /ui/ first rows, this checkout [{k}]", await page_times(browser, f"{base}/ui/", first_row, n), 1),
                            summary(f"UI   /ui/ filtered, baseline checkout [{k}]", await page_times(browser, f"{other}/ui/?{filtered}", first_row, n), 1),
                            summary(f"UI   /ui/ filtered, this checkout [{k}]", await page_times(browser, f"{base}/ui/?{filtered}", first_row, n), 1),
                        ]  # fmt: skip
                        print("\n".join(lines[-8:]), flush=True)
                lines += [
                    summary("API  GET /api/v1/runs?limit=50 (Python client)", await api_times(base, ["/api/v1/runs?limit=50"], n)),
                    summary("API  same, fetch() inside the page", await in_page_fetch(browser, base, "/api/v1/runs?limit=50", n)),
                    summary("UI   /ui/ first rows (fresh tab)", await page_times(browser, base + "/ui/", first_row, n), 1),
                    summary("API  same, filtered and sorted by a metric", await api_times(base, [f"/api/v1/runs?{filtered}&limit=50"], n)),
                    summary("UI   /ui/ same filter and sort, first rows", await page_times(browser, f"{base}/ui/?{filtered}", first_row, n), 1),
                    summary(f"API  run + steps of the {FANOUT:,}-step run", await api_times(base, [run, f"{run}/steps"], n)),
                    summary(f"UI   /ui/runs/<{FANOUT:,}-step run> graph drawn", await page_times(browser, f"{base}/ui/runs/{run_id}", graph_drawn, n), 2),
                ]  # fmt: skip
            finally:
                await browser.close()
    finally:
        stop_api(proc)
        if baseline is not None:
            stop_api(baseline[0])
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100_000, help="synthetic runs in the database")
    parser.add_argument("--steps-per-run", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=10, help="timed repetitions of each measurement")
    parser.add_argument("--keep", metavar="DIR", help="keep the Postgres data directory in DIR and reuse its dataset")
    parser.add_argument("--workers", type=int, default=query_load.default_workers())
    parser.add_argument("--baseline", metavar="CHECKOUT", help="also time the run and runs pages served by this source tree's "
                        "API (another version, e.g. a worktree of main), interleaved with this one's")  # fmt: skip
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
