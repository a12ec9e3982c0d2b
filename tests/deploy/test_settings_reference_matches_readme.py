"""deploy/README.md's configuration reference is exactly what the Settings model generates."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field, SecretStr
from pydantic.fields import FieldInfo

from runledger.core import settings_reference
from tests.deploy.manifests import DEPLOY

README = DEPLOY / "README.md"


def test_readme_settings_section_equals_the_generated_reference():
    embedded = settings_reference.embedded_section(README.read_text(encoding="utf-8"))
    assert embedded == settings_reference.settings_markdown(), (
        "deploy/README.md's settings section is out of date; regenerate it with "
        f"`{settings_reference.REGENERATE}`"
    )


def test_reference_lists_every_setting_once():
    markdown = settings_reference.settings_markdown()
    for group in settings_reference.groups():
        for name, _ in settings_reference.variables(group):
            assert markdown.count(f"| `{name}` |") == 1


def test_defaults_are_spelled_as_environment_values_and_secrets_never_printed():
    text = settings_reference.default_text
    assert text(Field(default=True)) == "`true`"
    assert text(Field(default=None)) == "unset"
    assert text(Field(default="")) == "empty"
    assert text(Field(default_factory=Path.home)) == "(computed)"
    assert text(Field(default_factory=dict)) == "`{}`"
    assert text(Field(default=SecretStr("hunter2"))) == "(secret)"
    assert "hunter2" not in settings_reference.settings_markdown()


def test_write_flag_rewrites_only_the_marked_section(tmp_path, capsys):
    doc = tmp_path / "README.md"
    begin, end = settings_reference.BEGIN, settings_reference.END
    doc.write_text(f"# title\n\n{begin}\nstale\n{end}\n\nafter\n", encoding="utf-8")
    assert settings_reference.main(["--write", str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# title\n\n") and text.endswith(f"{end}\n\nafter\n")
    assert settings_reference.embedded_section(text) == settings_reference.settings_markdown()
    assert settings_reference.main(["--write", str(doc)]) == 0
    assert doc.read_text(encoding="utf-8") == text  # idempotent


def test_write_flag_refuses_a_document_without_markers(tmp_path):
    doc = tmp_path / "README.md"
    doc.write_text("no markers here\n", encoding="utf-8")
    assert settings_reference.main(["--write", str(doc)]) == 1
    assert doc.read_text(encoding="utf-8") == "no markers here\n"


def test_printing_without_flags_writes_the_reference_to_stdout(capsys):
    assert settings_reference.main([]) == 0
    assert capsys.readouterr().out == settings_reference.settings_markdown()


@pytest.mark.parametrize("text", ["", "<!-- settings:end -->\n<!-- settings:begin -->\n"])
def test_markers_out_of_order_or_missing_are_an_error(text):
    with pytest.raises(ValueError):
        settings_reference.embedded_section(text)


def test_choices_of_literal_and_enum_settings_are_listed():
    class Mode(enum.Enum):
        NONE = "none"
        STATIC = "static"

    literal = FieldInfo.from_annotated_attribute(Literal["a", "b"] | None, None)
    literal.description = "Pick."
    assert settings_reference.meaning_text(literal) == "Pick. One of `a`, `b`."
    choice = FieldInfo.from_annotated_attribute(Mode, Mode.NONE)
    assert settings_reference.meaning_text(choice) == "One of `none`, `static`."
    assert settings_reference.default_text(choice) == "`none`"
