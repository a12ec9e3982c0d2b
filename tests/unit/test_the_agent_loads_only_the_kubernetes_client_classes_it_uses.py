"""Importing the service loads kubernetes-asyncio without its hundreds of API and model classes (tens of
MB of an idle agent); every name the library exports still resolves, to the class its module defines."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_service_loads_no_model_and_no_unused_api() -> None:
    out = run_python("""
        import sys
        import runledger.service
        loaded = [m for m in sys.modules if m.startswith(("kubernetes_asyncio.client.models.", "kubernetes_asyncio.client.api."))]
        print(len(loaded))
    """)
    assert out == "0"


def test_every_exported_name_resolves_to_the_class_of_its_own_module() -> None:
    out = run_python("""
        import importlib, re, pathlib
        from runledger.core.kube_client import ApiException, client
        import kubernetes_asyncio
        from kubernetes_asyncio.client import models
        text = pathlib.Path(client.__file__).read_text()
        names = re.findall(r"^from (kubernetes_asyncio[\\w.]*) import (\\w+)", text, re.M)
        assert len(names) > 500, len(names)
        for module, name in names:
            assert getattr(client, name) is getattr(importlib.import_module(module), name), name
        assert models.V1Lease is client.V1Lease  # how ApiClient finds the class it deserialises into
        assert ApiException is importlib.import_module("kubernetes_asyncio.client.exceptions").ApiException
        assert kubernetes_asyncio.watch.Watch is importlib.import_module("kubernetes_asyncio.watch.watch").Watch
        print("ok", kubernetes_asyncio.__version__)
    """)
    assert out.startswith("ok ")
