"""Trusted roots and the references (``sha256:<hex>``) layouts pin them by.

A reference is the SHA-256 of the securesystemslib canonical JSON of the ``TrustedRoot``
object, whether the file holds the root bare (``trusted_root.json``) or inside a
ClientTrustConfig (``trustedRoot`` of a document whose ``mediaType`` starts with
``application/vnd.dev.sigstore.clienttrustconfig``): the same rule as Hallmark's
``TrustRootRef::of_document``, so re-indenting or reordering a root keeps its reference.

The verifier reads the roots it may use from the files named by ``HALLMARK_TRUSTED_ROOT``
(several separated by ``os.pathsep``), and uses the one whose reference the key pins.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from . import TRUSTED_ROOT_ENV

_CLIENT_TRUST_CONFIG = "application/vnd.dev.sigstore.clienttrustconfig"


def _root_object(doc: Any) -> Any:
    if (
        isinstance(doc, dict)
        and isinstance(doc.get("mediaType"), str)
        and doc["mediaType"].startswith(_CLIENT_TRUST_CONFIG)
        and "trustedRoot" in doc
    ):
        return doc["trustedRoot"]
    return doc


def trust_root_ref(document: bytes | str) -> str:
    """The reference (``sha256:<hex>``) to the trusted root in ``document``: a TrustedRoot
    JSON document, or a ClientTrustConfig holding one.

    Raises:
        ValueError: Not JSON, or the root holds a float.
        TypeError: The root is not a JSON object.
    """
    from securesystemslib.exceptions import FormatError
    from securesystemslib.formats import encode_canonical

    root = _root_object(json.loads(document))
    if not isinstance(root, dict):
        raise TypeError("a trusted root is a JSON object")
    try:
        canonical = encode_canonical(root)
    except FormatError as e:
        raise ValueError(f"the trusted root has no canonical JSON form: {e}") from e
    assert isinstance(canonical, str)  # encode_canonical returns the text without output_function
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LoadedRoot:
    """A trusted root read from a file, with its reference."""

    path: str
    ref: str
    raw: bytes
    is_client_trust_config: bool

    def load(self) -> Any:
        """The root as sigstore-python's ``TrustedRoot`` (through its public loaders)."""
        from sigstore.models import ClientTrustConfig, TrustedRoot

        if self.is_client_trust_config:
            return ClientTrustConfig.from_json(self.raw.decode("utf-8")).trusted_root
        return TrustedRoot.from_file(self.path)


_cache: dict[str, list[LoadedRoot]] = {}


def configured_roots() -> list[LoadedRoot]:
    """The trusted roots named by ``HALLMARK_TRUSTED_ROOT`` (read once per value).

    Raises:
        ValueError: The variable is unset or empty, or a file cannot be read or parsed.
    """
    value = os.environ.get(TRUSTED_ROOT_ENV, "")
    if value in _cache:
        return _cache[value]
    paths = [p for p in value.split(os.pathsep) if p]
    if not paths:
        raise ValueError(
            f"{TRUSTED_ROOT_ENV} is not set: it names the trusted_root.json or ClientTrustConfig "
            "files whose roots hallmark-oidc keys may pin (separated by "
            f"{os.pathsep!r})"
        )
    roots = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                raw = f.read()
            ref = trust_root_ref(raw)
        except (OSError, ValueError, TypeError) as e:
            raise ValueError(f"{TRUSTED_ROOT_ENV}: cannot use {path}: {e}") from e
        doc = json.loads(raw)
        roots.append(LoadedRoot(path, ref, raw, _root_object(doc) is not doc))
    _cache[value] = roots
    return roots
