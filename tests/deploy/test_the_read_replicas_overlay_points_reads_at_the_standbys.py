"""The read-replicas overlay gives the pods the standbys' URLs from the database Secret, beside the
primary's, and a lag bound; nothing else of the base changes."""

from __future__ import annotations

from tests.deploy.manifests import one, rendered, runledger_container


def env_of(variant: str) -> dict[str, dict]:
    return {e["name"]: e for e in runledger_container(rendered(variant))["env"]}


def test_the_standbys_urls_come_from_the_database_secret_beside_the_primarys():
    env = env_of("read-replicas")
    assert env["RUNLEDGER_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "runledger-database", "key": "url"}
    replicas = env["RUNLEDGER_DATABASE_REPLICA_URLS"]["valueFrom"]["secretKeyRef"]
    assert replicas == {"name": "runledger-database", "key": "replica-urls"}  # required: no silent fallback


def test_a_lag_bound_is_set_and_the_rest_is_the_base():
    config = one(rendered("read-replicas"), "ConfigMap", "runledger-config")["data"]
    base = one(rendered("base"), "ConfigMap", "runledger-config")["data"]
    assert float(config.pop("RUNLEDGER_REPLICA_MAX_LAG_SECONDS")) > 0
    assert config == base
    assert set(env_of("read-replicas")) - set(env_of("base")) == {"RUNLEDGER_DATABASE_REPLICA_URLS"}
