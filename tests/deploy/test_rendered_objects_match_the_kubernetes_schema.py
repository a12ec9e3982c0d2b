"""Every rendered object validates against the Kubernetes OpenAPI schema, unknown fields rejected.

kubernetes-validate bundles the schemas of each Kubernetes release; KUBERNETES_VERSION is the newest
it bundles at the version pinned in the dev dependencies. Strict mode rejects fields the schema does
not define, so a typo (`readOnlyRootFileSystem`) fails here instead of being dropped by the API
server. Custom resources have no bundled schema and are checked structurally.
"""

from __future__ import annotations

import pytest

kubernetes_validate = pytest.importorskip("kubernetes_validate")
from kubernetes_validate import utils  # noqa: E402

from tests.deploy.manifests import VARIANTS, find, rendered  # noqa: E402

KUBERNETES_VERSION = "1.37"
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}


def test_the_schema_version_is_bundled():
    assert KUBERNETES_VERSION in {utils.major_minor(v) for v in utils.all_versions()}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_built_in_object_validates_strictly(variant: str):
    failures = []
    for obj in rendered(variant):
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            continue
        try:
            utils.validate(obj, KUBERNETES_VERSION, strict=True)
        except utils.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {exc.message}")
        except utils.SchemaNotFoundError as exc:
            failures.append(exc.message)
    assert not failures, "\n".join(failures)


def test_service_monitor_scrapes_the_http_port_of_the_runledger_service():
    objects = rendered("base+servicemonitor")
    [monitor] = find(objects, "ServiceMonitor")
    assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(monitor["spec"]) == {"selector", "endpoints"}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout"}
    [service] = find(objects, "Service", "runledger")
    assert service["spec"]["ports"][0]["name"] == "http"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
