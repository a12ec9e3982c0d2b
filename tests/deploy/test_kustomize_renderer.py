"""The pure-Python kustomize the deploy tests render with, on small kustomizations of its own."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support import kustomize


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


DEPLOYMENT = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: app}
    spec:
      selector: {matchLabels: {tier: web}}
      template:
        metadata: {labels: {tier: web}}
        spec:
          containers:
            - name: app
              image: example.org/team/app:1.0
              args: ["serve", "--verbose"]
              env:
                - {name: A, value: "1"}
                - {name: B, value: "2"}
            - name: sidecar
              image: example.org/sidecar:2.0
"""
RBAC = """\
    apiVersion: v1
    kind: ServiceAccount
    metadata: {name: app}
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata: {name: app}
    rules: []
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata: {name: app}
    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: app}
    subjects:
      - {kind: ServiceAccount, name: app, namespace: default}
      - {kind: ServiceAccount, name: someone-else, namespace: other}
      - {kind: User, name: alice}
"""


def by_kind(objects: list[dict]) -> dict[str, dict]:
    return {o["kind"]: o for o in objects}


def test_namespace_is_set_on_namespaced_kinds_and_follows_service_account_subjects(tmp_path):
    write(tmp_path, {"kustomization.yaml": "namespace: team\nresources: [rbac.yaml]\n", "rbac.yaml": RBAC})
    objects = by_kind(kustomize.render(tmp_path))
    assert objects["ServiceAccount"]["metadata"]["namespace"] == "team"
    assert "namespace" not in objects["ClusterRole"]["metadata"]
    assert "namespace" not in objects["ClusterRoleBinding"]["metadata"]
    subjects = objects["ClusterRoleBinding"]["subjects"]
    assert subjects == [
        {"kind": "ServiceAccount", "name": "app", "namespace": "team"},
        {"kind": "ServiceAccount", "name": "someone-else", "namespace": "other"},
        {"kind": "User", "name": "alice"},
    ]


def test_selector_labels_reach_selectors_and_pod_templates_but_plain_labels_only_metadata(tmp_path):
    write(tmp_path, {
        "kustomization.yaml": """\
            resources: [deployment.yaml, service.yaml]
            labels:
              - pairs: {app: x}
                includeSelectors: true
              - pairs: {team: y}
        """,
        "deployment.yaml": DEPLOYMENT,
        "service.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: app}\nspec: {ports: [{port: 80}]}\n",
    })  # fmt: skip
    objects = by_kind(kustomize.render(tmp_path))
    deployment, service = objects["Deployment"], objects["Service"]
    assert deployment["metadata"]["labels"] == {"app": "x", "team": "y"}
    assert deployment["spec"]["selector"]["matchLabels"] == {"tier": "web", "app": "x"}
    assert deployment["spec"]["template"]["metadata"]["labels"] == {"tier": "web", "app": "x"}
    assert service["spec"]["selector"] == {"app": "x"}  # created where there was none


def test_common_labels_behave_like_labels_with_selectors(tmp_path):
    write(tmp_path, {"kustomization.yaml": "resources: [d.yaml]\ncommonLabels: {app: x}\n", "d.yaml": DEPLOYMENT})
    [deployment] = kustomize.render(tmp_path)
    assert deployment["spec"]["selector"]["matchLabels"]["app"] == "x"
    assert deployment["spec"]["template"]["metadata"]["labels"]["app"] == "x"


def test_strategic_merge_merges_containers_and_env_by_name_and_replaces_other_lists(tmp_path):
    write(tmp_path, {
        "kustomization.yaml": "resources: [d.yaml]\npatches:\n  - path: patch.yaml\n",
        "d.yaml": DEPLOYMENT,
        "patch.yaml": """\
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: app}
            spec:
              replicas: 3
              template:
                spec:
                  containers:
                    - name: app
                      args: ["serve"]
                      env:
                        - {name: B, value: "two"}
                        - {name: C, value: "3"}
        """,
    })  # fmt: skip
    [deployment] = kustomize.render(tmp_path)
    app, sidecar = deployment["spec"]["template"]["spec"]["containers"]
    assert deployment["spec"]["replicas"] == 3
    assert app["image"] == "example.org/team/app:1.0"  # untouched fields stay
    assert app["args"] == ["serve"]  # a list without a merge key is replaced
    assert {e["name"]: e["value"] for e in app["env"]} == {"A": "1", "B": "two", "C": "3"}
    assert sidecar["name"] == "sidecar"  # a container the patch does not name stays


def test_null_deletes_a_field_and_dollar_patch_delete_removes_the_object(tmp_path):
    write(tmp_path, {
        "kustomization.yaml": """\
            resources: [d.yaml, rbac.yaml]
            patches:
              - patch: |
                  apiVersion: apps/v1
                  kind: Deployment
                  metadata: {name: app}
                  spec: {selector: {matchLabels: {tier: null}}}
              - patch: |
                  $patch: delete
                  apiVersion: rbac.authorization.k8s.io/v1
                  kind: ClusterRole
                  metadata: {name: app}
        """,
        "d.yaml": DEPLOYMENT,
        "rbac.yaml": RBAC,
    })  # fmt: skip
    objects = kustomize.render(tmp_path)
    assert "ClusterRole" not in {o["kind"] for o in objects}
    assert by_kind(objects)["Deployment"]["spec"]["selector"]["matchLabels"] == {}


def test_overlays_build_on_bases_and_components_on_what_was_accumulated(tmp_path):
    write(tmp_path, {
        "base/kustomization.yaml": "resources: [d.yaml]\n",
        "base/d.yaml": DEPLOYMENT,
        "extra/kustomization.yaml": """\
            apiVersion: kustomize.config.k8s.io/v1alpha1
            kind: Component
            resources: [cm.yaml]
            patches:
              - patch: |
                  apiVersion: apps/v1
                  kind: Deployment
                  metadata: {name: app}
                  spec: {replicas: 5}
        """,
        "extra/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n",
        "overlay/kustomization.yaml": "namespace: prod\nresources: [../base]\ncomponents: [../extra]\n",
    })  # fmt: skip
    objects = by_kind(kustomize.render(tmp_path / "overlay"))
    assert objects["Deployment"]["spec"]["replicas"] == 5
    assert objects["ConfigMap"]["metadata"]["namespace"] == "prod"
    assert objects["Deployment"]["metadata"]["namespace"] == "prod"


def test_images_change_the_tag_name_or_digest_of_matching_containers_only(tmp_path):
    write(tmp_path, {
        "kustomization.yaml": """\
            resources: [d.yaml]
            images:
              - {name: example.org/team/app, newName: registry.local/app, newTag: "1.1"}
              - {name: example.org/sidecar, digest: "sha256:abc"}
        """,
        "d.yaml": DEPLOYMENT,
    })  # fmt: skip
    [deployment] = kustomize.render(tmp_path)
    images = [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert images == ["registry.local/app:1.1", "example.org/sidecar@sha256:abc"]
    assert kustomize.split_image("registry:5000/a/b:1.2@sha256:f") == ("registry:5000/a/b", "1.2", "sha256:f")


@pytest.mark.parametrize(
    "kustomization",
    ["resources: [d.yaml]\nnamePrefix: x-\n", "resources: [d.yaml]\nconfigMapGenerator: []\n",
     "resources: [d.yaml]\npatches:\n  - {path: p.yaml, target: {kind: Deployment}}\n"],
)  # fmt: skip
def test_features_it_does_not_implement_are_refused(tmp_path, kustomization):
    write(tmp_path, {"kustomization.yaml": kustomization, "d.yaml": DEPLOYMENT, "p.yaml": "[]\n"})
    with pytest.raises(kustomize.Unsupported):
        kustomize.render(tmp_path)


def test_a_patch_that_matches_nothing_is_an_error(tmp_path):
    write(tmp_path, {
        "kustomization.yaml": "resources: [d.yaml]\npatches:\n  - path: p.yaml\n",
        "d.yaml": DEPLOYMENT,
        "p.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: typo}\nspec: {replicas: 1}\n",
    })  # fmt: skip
    with pytest.raises(kustomize.RenderError, match="typo"):
        kustomize.render(tmp_path)
