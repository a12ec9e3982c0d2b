"""A kubernetes-asyncio client configured the way kubectl would be, for the agent and the API alike.

kubernetes-asyncio's own loaders do the work: the in-cluster service account when running in a pod
(and no kubeconfig is named), else a kubeconfig (RUNLEDGER_KUBE_CONFIG, KUBECONFIG, ~/.kube/config).
The agent watches with it; the API reviews callers' tokens and access with it. Modules that use the
client import ``client`` (and ``ApiException``) from here, so that only what they use is loaded
(runledger.core.lean_kubernetes).
"""

from __future__ import annotations

import os
from pathlib import Path

from runledger.core import lean_kubernetes

lean_kubernetes.install()  # before the first import of kubernetes_asyncio: see there

from kubernetes_asyncio import client, config  # noqa: E402
from kubernetes_asyncio.client.exceptions import ApiException  # noqa: E402
from kubernetes_asyncio.config.kube_config import KUBE_CONFIG_DEFAULT_LOCATION  # noqa: E402

from runledger.core.settings import ClusterSettings  # noqa: E402

__all__ = ["ApiException", "client", "cluster_configured", "connect"]

_SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def cluster_configured(cluster: ClusterSettings) -> bool:
    """Whether a cluster is reachable by configuration: running in a pod, or a kubeconfig exists."""
    if cluster.kube_config is not None:
        return True
    in_pod = "KUBERNETES_SERVICE_HOST" in os.environ and _SERVICE_ACCOUNT_TOKEN.is_file()
    return in_pod or Path(os.path.expanduser(KUBE_CONFIG_DEFAULT_LOCATION.split(os.pathsep)[0])).is_file()


async def connect(cluster: ClusterSettings) -> client.ApiClient:
    configuration = client.Configuration()
    if cluster.kube_config is None:
        try:
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        except config.ConfigException:
            pass
    await config.load_kube_config(
        config_file=str(cluster.kube_config) if cluster.kube_config else None,
        context=cluster.kube_context,
        client_configuration=configuration,
    )
    return client.ApiClient(configuration)
