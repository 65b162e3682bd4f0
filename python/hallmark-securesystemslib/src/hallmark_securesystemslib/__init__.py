"""Hallmark's keyless in-toto functionaries for securesystemslib and stock in-toto.

A layout names a keyless functionary as a key of keytype ``hallmark-oidc``, scheme
``hallmark-oidc-v1``, whose ``keyval`` pins an OIDC identity and a trusted root::

    {"keytype": "hallmark-oidc", "scheme": "hallmark-oidc-v1",
     "keyval": {"issuer": "https://issuer.example",
                "identity": {"regex": "https://github.com/acme/app/.*"},
                "extensions": {"sourceRepositoryRef": "refs/heads/main"},
                "trust_root": "sha256:<hex>"}}

(the format is defined next to Hallmark's own verifier, ``crates/sigstore/src/intoto/layout.rs``).
A link (or layout) signed by such a functionary is a classic Metablock whose signature
carries, besides ``keyid`` and ``sig``, a ``bundle``: a Sigstore bundle whose DSSE envelope, of
type :data:`SIGNED_PAYLOAD_TYPE`, holds the canonical ``signed`` bytes (``sig`` is the envelope
signature). Message-signature bundles are refused (domain separation, see that constant).

:class:`HallmarkOidcKey` verifies such a signature with sigstore-python, offline, against the
trusted roots named by the environment variable ``HALLMARK_TRUSTED_ROOT`` (see
:mod:`hallmark_securesystemslib._trust`). Installing the package puts a ``.pth`` file in
site-packages that registers the key type whenever ``securesystemslib.signer`` is imported
(:mod:`hallmark_securesystemslib._autoload`), so stock ``in-toto-verify`` needs no wrapper.

This module stays light (the ``.pth`` imports it at every interpreter start): the key class
and its dependencies load on first use.
"""

from __future__ import annotations

from typing import Any

KEYTYPE = "hallmark-oidc"
"""``keytype`` of Hallmark's keyless functionaries."""

SCHEME = "hallmark-oidc-v1"
"""``scheme`` of Hallmark's keyless functionaries."""

SIGNED_PAYLOAD_TYPE = "application/vnd.hallmark.intoto-signed+json"
"""DSSE payload type of a keyless signature's bundle; the payload is the canonical ``signed``
bytes. Domain separation: a message signature over those bytes is what any blob signer
(``hallmark sign``, ``cosign sign-blob``, ``sigstore sign``) makes for any file, so it could be
lifted from a file an attacker chose; no generic signer or attester uses this type. Defined in
Rust as ``hallmark_sigstore::intoto::SIGNED_PAYLOAD_TYPE`` (crates/sigstore/src/intoto/link.rs)."""

TRUSTED_ROOT_ENV = "HALLMARK_TRUSTED_ROOT"
"""Environment variable naming the trusted-root files (``os.pathsep``-separated)."""

__all__ = [
    "KEYTYPE",
    "SCHEME",
    "SIGNED_PAYLOAD_TYPE",
    "TRUSTED_ROOT_ENV",
    "HallmarkOidcKey",
    "register",
    "trust_root_ref",
]


def register() -> None:
    """Registers :class:`HallmarkOidcKey` in securesystemslib's ``KEY_FOR_TYPE_AND_SCHEME``."""
    from securesystemslib.signer import KEY_FOR_TYPE_AND_SCHEME

    from ._key import HallmarkOidcKey  # registers on first import; again here, idempotently

    KEY_FOR_TYPE_AND_SCHEME[(KEYTYPE, SCHEME)] = HallmarkOidcKey


def __getattr__(name: str) -> Any:
    if name == "HallmarkOidcKey":
        from ._key import HallmarkOidcKey

        return HallmarkOidcKey
    if name == "trust_root_ref":
        from ._trust import trust_root_ref

        return trust_root_ref
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
