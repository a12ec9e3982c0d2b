"""kubernetes-asyncio without the seven hundred models the agent never builds.

Importing ``kubernetes_asyncio`` runs its package ``__init__``, which imports every API class and
every model of the Kubernetes API: some 60 MB of memory for a process that watches two resources
and reads a ConfigMap, a Lease and two reviews. ``install()`` puts lazy stand-ins for the packages
whose ``__init__`` does that (``kubernetes_asyncio``, ``.client``, ``.client.api``, ``.client.models``)
in ``sys.modules``: each is the real package directory, so its modules import as usual, and each name
its ``__init__`` would have imported (``client.CoreV1Api``, ``client.models.V1Lease``) is imported
from its own module on first use, the same object as the eager import's. The names and their modules
are read from the package's own ``__init__`` files, so a new release cannot fall out of step.

It must run before anything imports kubernetes-asyncio; ``runledger.core.kube_client`` runs it, and
the modules that use the client import it from there. Where the library was imported already, it
does nothing.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import re
import sys
import types
from pathlib import Path

_ROOT = "kubernetes_asyncio"
_LAZY_PACKAGES = (_ROOT, f"{_ROOT}.client", f"{_ROOT}.client.api", f"{_ROOT}.client.models")
_IMPORTED_NAME = re.compile(r"^from (kubernetes_asyncio[\w.]*) import (\w+)\s*$", re.MULTILINE)
_IMPORTED_MODULE = re.compile(r"^import (kubernetes_asyncio[\w.]*) as (\w+)\s*$", re.MULTILINE)


def install() -> None:
    if _ROOT in sys.modules:
        return
    spec = importlib.util.find_spec(_ROOT)
    if spec is None or spec.origin is None:
        return  # not installed: the importing module reports it
    directory = Path(spec.origin).parent
    for name in _LAZY_PACKAGES:
        path = directory.joinpath(*name.split(".")[1:])
        sys.modules[name] = _lazy_package(name, path)
    for name in _LAZY_PACKAGES[1:]:
        parent, _, child = name.rpartition(".")
        setattr(sys.modules[parent], child, sys.modules[name])


def _lazy_package(name: str, path: Path) -> types.ModuleType:
    init = path / "__init__.py"
    text = init.read_text(encoding="utf-8")
    # name -> (module, attribute of it, or None for the module itself)
    exports: dict[str, tuple[str, str | None]] = {n: (m, n) for m, n in _IMPORTED_NAME.findall(text)}
    exports |= {alias: (m, None) for m, alias in _IMPORTED_MODULE.findall(text)}
    module = types.ModuleType(name)
    module.__file__ = str(init)
    module.__path__ = [str(path)]
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, origin=str(init), is_package=True)
    module.__spec__.submodule_search_locations = [str(path)]
    for constant in re.findall(r'^(__version__|__project__) = "([^"]*)"', text, re.MULTILINE):
        setattr(module, *constant)

    def __getattr__(attribute: str):  # noqa: N807 (PEP 562)
        found = exports.get(attribute)
        if found is None:
            try:  # a submodule not named in __init__ (client.exceptions)
                value = importlib.import_module(f"{name}.{attribute}")
            except ModuleNotFoundError:
                raise AttributeError(f"module {name!r} has no attribute {attribute!r}") from None
        else:
            source = importlib.import_module(found[0])
            value = source if found[1] is None else getattr(source, found[1])
        setattr(module, attribute, value)
        return value

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    module.__dir__ = lambda: sorted({*exports, *module.__dict__})  # type: ignore[method-assign]
    return module
