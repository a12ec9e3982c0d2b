"""The settings as a Markdown reference, generated from the Settings model.

Operators read the configuration reference in deploy/README.md, not `--help`. Writing that table by
hand would drift from `Settings` the first time a field is added, so the README embeds this module's
output between two markers and a test compares them. `python -m runledger.core.settings_reference` prints
the table; `--write deploy/README.md` rewrites the marked section in place.

Tables and `--help` sections are the groups of `Settings` (one per concern), in its order. Defaults are
printed as an operator would type them into an environment variable (`true`, not `True`); a default
computed at start-up (e.g. from the home directory) prints as "(computed)" so the reference does
not depend on the machine that generated it, and a secret's default is never printed.
"""

from __future__ import annotations

import argparse
import enum
import json
import sys
import textwrap
import types
import typing
from pathlib import Path, PurePath
from typing import Any, Literal

from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from runledger.core.settings import Settings

BEGIN = "<!-- settings:begin -->"
END = "<!-- settings:end -->"
REGENERATE = "python -m runledger.core.settings_reference --write deploy/README.md"


def env_name(group: type[BaseSettings], name: str, field: FieldInfo) -> str:
    if isinstance(field.validation_alias, str):
        return field.validation_alias.upper()
    return f"{group.model_config.get('env_prefix', '')}{name}".upper()


def groups() -> dict[str, type[BaseSettings]]:
    """The groups of `Settings` by name (`database`, `cluster`, ...), in declaration order."""
    return {name: field.annotation for name, field in Settings.model_fields.items()}


def variables(group: str) -> list[tuple[str, FieldInfo]]:
    """A group's environment variables with their fields, in declaration order."""
    model = groups()[group]
    return [(env_name(model, name, field), field) for name, field in model.model_fields.items()]


def _allowed_values(annotation: Any) -> list[Any]:
    """The values a Literal or Enum field allows (also inside `... | None`), else []."""
    if typing.get_origin(annotation) is Literal:
        return [v for v in typing.get_args(annotation) if v is not None]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return list(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [v for arg in typing.get_args(annotation) for v in _allowed_values(arg)]
    return []


def _env_text(value: Any) -> str:
    """A value spelled the way an environment variable carries it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return _env_text(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, BaseModel):
        return json.dumps(value.model_dump(mode="json"), separators=(",", ":"), sort_keys=True)
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return json.dumps(items, separators=(",", ":"), sort_keys=True, default=str)
    return str(value)


# Factories whose value cannot depend on the machine; any other factory prints as "(computed)".
_EMPTY_FACTORIES = (dict, list, tuple)


def default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "(required)"
    if field.default_factory in _EMPTY_FACTORIES:
        return f"`{_env_text(field.default_factory())}`"
    if field.default_factory is not None:
        return "(computed)"
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, (SecretStr, SecretBytes)):
        # A secret's default is never printed, not even in documentation.
        return "(secret)" if value.get_secret_value() else "empty"
    text = _env_text(value)
    return f"`{text}`" if text else "empty"


def _cell(text: str) -> str:
    """One table cell: on one line, with what Markdown would eat (`|`, `<placeholder>`) escaped."""
    text = " ".join(text.split()).replace("|", "\\|")
    return text.replace("<", "&lt;").replace(">", "&gt;")


def meaning_text(field: FieldInfo) -> str:
    meaning = _cell(field.description or "")
    allowed = _allowed_values(field.annotation)
    if allowed:
        meaning = f"{meaning} One of {', '.join(f'`{_env_text(v)}`' for v in allowed)}.".strip()
    return meaning


def command_help(*, groups: list[str]) -> str:
    """The settings of `groups` for a command's `--help`: each variable with its default, a few to a line.

    A command lists what it reads, not all settings: its help fits a screen; `runledger settings`
    explains each."""
    lines = ["settings it reads (environment variables with their defaults; `runledger settings` explains each):"]
    for group in groups:
        fields = [f"{name}={default_text(field).strip('`')}" for name, field in variables(group)]
        lines.extend(textwrap.wrap("  ".join(fields), width=120, initial_indent=f"  {group}: ",
                                   subsequent_indent="    ", break_on_hyphens=False))  # fmt: skip
    return "\n".join(lines)


def settings_markdown() -> str:
    """Every setting as Markdown: one table (variable | default | meaning) per group, in declaration order."""
    parts = []
    for group, model in groups().items():
        rows = []
        for name, field in variables(group):
            # A default is a code span, where only the pipe needs escaping inside a table.
            default = default_text(field).replace("|", "\\|")
            rows.append(f"| `{name}` | {default} | {meaning_text(field)} |")
        title = f"**{group}**: {_cell(model.__doc__ or '')}"
        parts.append("\n".join([title, "", "| variable | default | meaning |", "|---|---|---|", *rows]))
    return "\n\n".join(parts) + "\n"


def validation_messages(exc: ValidationError) -> list[str]:
    """One line per invalid setting, named by its variable: `RUNLEDGER_DATABASE_POOL_MAX: Input should be ...`."""
    model = next((m for m in groups().values() if m.__name__ == exc.title), None)
    fields = {} if model is None else {
        key: (env_name(model, name, field), field)
        for name, field in model.model_fields.items()
        for key in (name, field.validation_alias)
    }  # fmt: skip
    lines = []
    for error in exc.errors(include_url=False):
        head, *rest = error["loc"] or ("?",)
        name, field = fields.get(head, (str(head), None))
        secret = field is None or "Secret" in str(field.annotation)
        got = "" if secret else f" (got {error['input']!r})"  # a secret's value is never printed
        lines.append(f"{'.'.join([name, *map(str, rest)])}: {error['msg']}{got}")
    return lines


def embedded_section(text: str) -> str:
    """What a document holds between the markers (raises ValueError without exactly one pair)."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f"expected one {BEGIN} … {END} pair")
    start = text.index(BEGIN) + len(BEGIN)
    return text[start : text.index(END)].removeprefix("\n")


def with_section(text: str, markdown: str) -> str:
    """`text` with the marked section replaced by `markdown`."""
    embedded_section(text)  # validates the markers
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{markdown}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runledger.core.settings_reference",
        description="Print every RUNLEDGER_* setting as Markdown, or rewrite the section of a document "
        f"between {BEGIN} and {END}.",
    )
    parser.add_argument("--write", type=Path, metavar="FILE", help="rewrite the marked section of FILE in place")
    args = parser.parse_args(argv)
    markdown = settings_markdown()
    if args.write is None:
        sys.stdout.write(markdown)
        return 0
    try:
        text = args.write.read_text(encoding="utf-8")
        updated = with_section(text, markdown)
    except (OSError, ValueError) as exc:
        print(f"settings_reference: {args.write}: {exc}", file=sys.stderr)
        return 1
    if updated != text:
        args.write.write_text(updated, encoding="utf-8")
        print(f"settings_reference: rewrote the settings section of {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
