"""No install ships a Secret: the manifests only name Secrets the operator creates."""

from __future__ import annotations

import pytest
import yaml

from tests.deploy.manifests import DEPLOY, VARIANTS, find, rendered, secret_refs

EXPECTED_REFS = {
    "base": {("runledger-database", "url", False), ("runledger-s3", "accesskey", True),
             ("runledger-s3", "secretkey", True)},
    "kubeflow": {("runledger-database", "url", False), ("mlpipeline-minio-artifact", "accesskey", True),
                 ("mlpipeline-minio-artifact", "secretkey", True)},
    "namespaced": {("runledger-database", "url", False), ("runledger-s3", "accesskey", True),
                   ("runledger-s3", "secretkey", True)},
    "sharded": {("runledger-database", "url", False), ("runledger-s3", "accesskey", True),
                ("runledger-s3", "secretkey", True)},
    "base+servicemonitor": {("runledger-database", "url", False), ("runledger-s3", "accesskey", True),
                            ("runledger-s3", "secretkey", True)},
    "read-replicas": {("runledger-database", "url", False), ("runledger-database", "replica-urls", False),
                      ("runledger-s3", "accesskey", True), ("runledger-s3", "secretkey", True)},
    "postgres": {("runledger-postgres", "password", False)},
}  # fmt: skip


@pytest.mark.parametrize("variant", VARIANTS)
def test_rendered_output_holds_no_secret_and_references_the_expected_ones(variant: str):
    objects = rendered(variant)
    assert find(objects, "Secret") == []
    assert secret_refs(objects) == EXPECTED_REFS[variant]


def test_the_example_secrets_are_placeholders_that_no_kustomization_lists():
    example = DEPLOY / "base" / "secrets.example.yaml"
    secrets = list(yaml.safe_load_all(example.read_text()))
    assert {s["metadata"]["name"] for s in secrets} == {"runledger-database", "runledger-s3"}
    for secret in secrets:
        assert all("CHANGE-ME" in value for value in secret["stringData"].values())
    for kustomization in DEPLOY.rglob("kustomization.yaml"):
        assert "secrets.example.yaml" not in yaml.safe_load(kustomization.read_text()).get("resources", [])
