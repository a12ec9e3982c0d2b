"""A malformed static token list stops start-up with a message that names the problem, never a token."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from runledger.api.access_reviews import load_static_grants
from runledger.core.settings import AuthSettings

SECRET = "very-secret-token-value-123"


def settings_with(text: str) -> AuthSettings:
    return AuthSettings(mode="static", static_tokens=SecretStr(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"token": "%s", "user": "u"' % SECRET, "not JSON"),
        (json.dumps([{"token": SECRET, "user": "u"}]), "namespaces"),
        (json.dumps([{"token": SECRET, "user": "u", "namespaces": []}]), "namespaces"),
        (json.dumps([{"token": "short", "user": "u", "namespaces": ["a"]}]), "token"),
        (json.dumps([{"token": SECRET, "user": "u", "namespaces": ["a"], "role": "x"}]), "role"),
        (json.dumps([{"token": SECRET, "user": "u", "namespaces": ["a"]}] * 2), "listed twice"),
    ],
)
def test_malformed_lists_are_refused_without_echoing_tokens(text, expected):
    with pytest.raises(ValueError) as raised:
        load_static_grants(settings_with(text))
    message = str(raised.value)
    assert expected in message and "RUNLEDGER_AUTH_STATIC_TOKENS" in message
    assert SECRET not in message and "short" not in message.replace("at least", "")


def test_static_mode_without_tokens_is_refused():
    with pytest.raises(ValueError, match="needs RUNLEDGER_AUTH_STATIC_TOKENS"):
        load_static_grants(AuthSettings(mode="static"))


def test_a_valid_list_is_read_from_a_file(tmp_path):
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps([{"token": SECRET, "user": "u", "groups": ["g"], "namespaces": ["*"]}]))
    [grant] = load_static_grants(AuthSettings(mode="static", static_tokens_file=path))
    assert (grant.user, grant.groups, grant.namespaces) == ("u", ("g",), ("*",))
    assert SECRET not in repr(grant)
