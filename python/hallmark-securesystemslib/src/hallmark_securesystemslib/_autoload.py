"""Registers the ``hallmark-oidc`` key type when ``securesystemslib.signer`` is imported.

Imported by ``hallmark_securesystemslib.pth`` at interpreter start. Importing securesystemslib
there would cost every Python process in the environment about a quarter of a second, so this
module only adds a meta-path finder that wraps the loader of ``securesystemslib.signer``: once
that module has executed, ``hallmark_securesystemslib._key`` is imported, which registers the
key type. A process that never
imports securesystemslib pays nothing.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

_TARGET = "securesystemslib.signer"
_KEY_MODULE = "hallmark_securesystemslib._key"


class _RegisteringLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        _load_key()


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if fullname != _TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _RegisteringLoader(spec.loader)
                return spec
        return None


def _load_key() -> None:
    # Importing the key module registers it. When that module's own import of
    # securesystemslib.signer got us here, it is already in sys.modules (half executed) and
    # registers itself when it finishes.
    if _KEY_MODULE not in sys.modules:
        importlib.import_module(_KEY_MODULE)


def _install() -> None:
    if _TARGET in sys.modules:
        _load_key()
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


_install()
