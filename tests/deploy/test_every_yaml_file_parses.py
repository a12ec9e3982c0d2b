"""Every YAML file under deploy/ parses, and every kustomization in it renders."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy.manifests import DEPLOY, VARIANTS, rendered, yaml_files


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_file_parses_into_objects_with_a_kind(path: Path):
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert documents, "an empty manifest"
    for doc in documents:
        assert isinstance(doc, dict)
        if path.name != "kustomization.yaml":
            assert doc.get("apiVersion") and doc.get("kind") and doc.get("metadata", {}).get("name")


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_renders_to_objects(variant: str):
    objects = rendered(variant)
    assert objects
    assert all(o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "runledger" for o in objects)


def test_every_kustomization_under_deploy_is_rendered_by_some_variant():
    directories = {p.parent.relative_to(DEPLOY).as_posix() for p in DEPLOY.rglob("kustomization.yaml")}
    assert directories == {"base", "overlays/kubeflow", "overlays/namespaced", "overlays/read-replicas",
                           "components/servicemonitor", "overlays/sharded", "overlays/sharded/shard-0",
                           "overlays/sharded/shard-1", "postgres"}  # fmt: skip
