"""Static grants are per token: a user listed twice would pool the namespaces of both grants, so
the list is refused at start-up, naming the setting and the user, never a token."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from runledger.api.access_reviews import StaticAccess, StaticGrant, load_static_grants
from runledger.core.settings import AuthSettings, Settings

NARROW = "narrow-token-0123456789"
WIDE = "wide-token-0123456789ab"
SAME_USER = [
    {"token": NARROW, "user": "alice", "namespaces": ["team-a"]},
    {"token": WIDE, "user": "alice", "namespaces": ["*"]},
]


def test_a_user_listed_twice_is_refused_naming_the_setting_and_the_user():
    settings = Settings(auth=AuthSettings(mode="static", static_tokens=SecretStr(json.dumps(SAME_USER))))
    with pytest.raises(ValueError) as raised:
        load_static_grants(settings.auth)
    message = str(raised.value)
    assert message.startswith("RUNLEDGER_AUTH_STATIC_TOKENS:") and "'alice'" in message
    assert NARROW not in message and WIDE not in message


def test_grants_sharing_a_user_cannot_be_combined_into_one_access():
    with pytest.raises(ValueError, match="alice"):
        StaticAccess([StaticGrant.model_validate(g) for g in SAME_USER])
