"""A kubernetes-asyncio client configured the way kubectl would be, for the agent and the API alike.

kubernetes-asyncio's own loaders do the work: the in-cluster service account when running in a pod
(and no kubeconfig is named), else a kubeconfig (RUNLEDGER_KUBE_CONFIG, KUBECONFIG, ~/.kube/config).
The agent watches with it; the API reviews callers' tokens and access with it.
"""

from __future__ import annotations

import os
from pathlib import Path

from kubernetes_asyncio import client, config
from kubernetes_asyncio.config.kube_config import KUBE_CONFIG_DEFAULT_LOCATION

from runledger.core.settings import Settings

_SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def cluster_configured(settings: Settings) -> bool:
    """Whether a cluster is reachable by configuration: running in a pod, or a kubeconfig exists."""
    if settings.kube_config is not None:
        return True
    in_pod = "KUBERNETES_SERVICE_HOST" in os.environ and _SERVICE_ACCOUNT_TOKEN.is_file()
    return in_pod or Path(os.path.expanduser(KUBE_CONFIG_DEFAULT_LOCATION.split(os.pathsep)[0])).is_file()


async def connect(settings: Settings) -> client.ApiClient:
    configuration = client.Configuration()
    if settings.kube_config is None:
        try:
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        except config.ConfigException:
            pass
    await config.load_kube_config(
        config_file=str(settings.kube_config) if settings.kube_config else None,
        context=settings.kube_context,
        client_configuration=configuration,
    )
    return client.ApiClient(configuration)
