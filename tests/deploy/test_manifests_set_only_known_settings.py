"""Every RUNLEDGER_* variable the manifests set is a setting, and the values parse as Settings."""

from __future__ import annotations

import pydantic
import pytest

from runledger.core.settings import Settings
from runledger.core.settings_reference import groups
from runledger.core.settings_reference import variables as settings_of
from tests.deploy.manifests import (
    RUNLEDGER_VARIANTS,
    one,
    rendered,
    runledger_container,
)

PREFIX = "RUNLEDGER_"


def variables(variant: str) -> dict[str, str | None]:
    """Name → literal value (None for values from Secrets or the downward API)."""
    objects = rendered(variant)
    values: dict[str, str | None] = dict(one(objects, "ConfigMap", "runledger-config")["data"])
    for env in runledger_container(objects)["env"]:
        values[env["name"]] = env.get("value")
    return values


@pytest.mark.parametrize("variant", RUNLEDGER_VARIANTS)
def test_every_variable_names_a_setting(variant: str):
    known = {name for group in groups() for name, _ in settings_of(group)}
    names = set(variables(variant))
    assert all(n.startswith(PREFIX) for n in names)
    assert not names - known, f"not a setting (typo?): {sorted(names - known)}"


@pytest.mark.parametrize("variant", RUNLEDGER_VARIANTS)
def test_config_values_parse_as_settings(variant: str, monkeypatch):
    import os

    for name in [n for n in os.environ if n.startswith(PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in variables(variant).items():
        # Secrets and downward-API values get stand-ins of the right shape.
        monkeypatch.setenv(name, value if value is not None else "postgresql://u:p@db:5432/runledger")
    monkeypatch.setenv(f"{PREFIX}LEADER_LEASE_NAMESPACE", "some-namespace")
    monkeypatch.setenv(f"{PREFIX}LEADER_IDENTITY", "runledger-abc12")
    try:
        settings = Settings()
    except pydantic.ValidationError as exc:
        pytest.fail(f"the {variant} configuration does not parse:\n{exc}")
    assert settings.cluster.source == "cluster" and settings.leader.election is True
    assert (settings.api.host, settings.api.port) == ("0.0.0.0", 8080)
    assert settings.cluster.namespaces == (["ml-team"] if variant == "namespaced" else [])
    if variant == "kubeflow":
        repository = settings.artifacts.repository
        assert repository is not None and repository.bucket == "mlpipeline"
