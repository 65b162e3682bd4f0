"""The ``hallmark-oidc`` securesystemslib key: a keyless functionary pinned by OIDC identity."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from securesystemslib.exceptions import UnverifiedSignatureError, VerificationError
from securesystemslib.signer import KEY_FOR_TYPE_AND_SCHEME, Key, Signature
from securesystemslib.signer._utils import compute_default_keyid

from . import KEYTYPE, SCHEME, SIGNED_PAYLOAD_TYPE, TRUSTED_ROOT_ENV
from ._match import TextMatch

logger = logging.getLogger(__name__)

_KEYVAL_FIELDS = {"issuer", "identity", "extensions", "trust_root"}
_TRUST_ROOT = re.compile(r"sha256:[0-9a-f]{64}")


class HallmarkOidcKey(Key):
    """A keyless functionary: signatures are Sigstore bundles whose certificate carries the
    pinned issuer, identity and extensions, vouched for by the pinned trusted root.

    ``keyval`` is kept verbatim (``to_dict`` returns what ``from_dict`` read), and is checked
    to be in the one form Hallmark writes, so the key id both compute from it is the same:
    SHA-256 of the canonical ``{keytype, scheme, keyval}``.

    Raises (constructor):
        ValueError: ``keyval`` is not a valid hallmark-oidc key value.
    """

    def __init__(
        self,
        keyid: str,
        keytype: str,
        scheme: str,
        keyval: dict[str, Any],
        unrecognized_fields: dict[str, Any] | None = None,
    ) -> None:
        """Checks ``keyval`` (see the class docs) and keeps it as given."""
        super().__init__(keyid, keytype, scheme, keyval, unrecognized_fields)
        if (keytype, scheme) != (KEYTYPE, SCHEME):
            raise ValueError(f"not a {KEYTYPE}/{SCHEME} key: {keytype}/{scheme}")
        unknown = sorted(set(keyval) - _KEYVAL_FIELDS)
        if unknown:
            raise ValueError(f"{KEYTYPE} keyval has unknown members {unknown}")
        for field in ("issuer", "identity", "trust_root"):
            if field not in keyval:
                raise ValueError(f"{KEYTYPE} keyval has no {field}")
        self._issuer = TextMatch.parse("issuer", keyval["issuer"])
        self._identity = TextMatch.parse("identity", keyval["identity"])
        trust_root = keyval["trust_root"]
        if not isinstance(trust_root, str) or not _TRUST_ROOT.fullmatch(trust_root):
            raise ValueError(
                f"keyval.trust_root {trust_root!r} is not sha256:<64 lower-case hex digits>"
            )
        self._trust_root = trust_root
        self._extensions = self._parse_extensions(keyval.get("extensions"))

    @staticmethod
    def _parse_extensions(raw: Any) -> dict[str, TextMatch]:
        from ._policy import EXTENSION_ARCS

        if raw is None:
            return {}
        if not isinstance(raw, dict) or not raw:
            raise ValueError(
                "keyval.extensions must be a non-empty object (omit it when there are no "
                f"constraints), not {raw!r}"
            )
        out = {}
        for name, constraint in raw.items():
            if name not in EXTENSION_ARCS:
                raise ValueError(
                    f"keyval.extensions: unknown extension {name!r}; write one of "
                    f"{sorted(EXTENSION_ARCS)} (OIDs and arcs are not accepted here, so the key "
                    "id stays the one Hallmark computes)"
                )
            out[name] = TextMatch.parse(f"extensions.{name}", constraint)
        return out

    @classmethod
    def from_dict(cls, keyid: str, key_dict: dict[str, Any]) -> HallmarkOidcKey:
        """Reads the key dict (popping its base fields, as securesystemslib's keys do; other
        members such as a layout's ``keyid`` are kept as unrecognized fields).

        Raises:
            KeyError: A base field is missing.
            TypeError: The key value is not an object.
            ValueError: The key value is invalid.
        """
        keytype, scheme, keyval = cls._from_dict(key_dict)
        if not isinstance(keyval, dict):
            raise TypeError(f"{KEYTYPE} keyval must be an object, not {keyval!r}")
        return cls(keyid, keytype, scheme, keyval, key_dict)

    def to_dict(self) -> dict[str, Any]:
        """The key dict, ``keyval`` as read."""
        return self._to_dict()

    @classmethod
    def from_keyval(cls, keyval: dict[str, Any]) -> HallmarkOidcKey:
        """A key with its default key id (what Hallmark computes for the same key value)."""
        return cls(compute_default_keyid(KEYTYPE, SCHEME, keyval), KEYTYPE, SCHEME, keyval)

    def verify_signature(self, signature: Signature, data: bytes) -> None:
        """Verifies the Sigstore bundle in ``signature.unrecognized_fields["bundle"]`` over
        ``data``: it must be a DSSE bundle whose payload type is :data:`SIGNED_PAYLOAD_TYPE`
        and whose payload is ``data`` (a message-signature bundle is refused: any blob signer
        makes those), with ``signature.signature`` its envelope signature; then the trusted
        root the key pins (from ``HALLMARK_TRUSTED_ROOT``), the certificate chain at the log's
        integrated time, the SCT, the SET, the inclusion proof and checkpoint, the envelope
        signature over the DSSE PAE, the log entry binding the envelope, and the key's issuer,
        identity and extensions.

        The reason for a failure is also logged at WARNING (stock in-toto reports only
        "Invalid signature for keyid").

        Raises:
            UnverifiedSignatureError: A check failed; the message names it.
            VerificationError: The environment is unusable (no trusted roots, sigstore missing).
        """
        try:
            self._verify(signature, data)
        except UnverifiedSignatureError as e:
            logger.warning("%s", e)
            raise

    def _fail(self, what: str) -> UnverifiedSignatureError:
        return UnverifiedSignatureError(
            f"{KEYTYPE} key {self.keyid[:8]} ({self._issuer} {self._identity}): {what}"
        )

    def _verify(self, signature: Signature, data: bytes) -> None:
        try:
            from sigstore.errors import Error as SigstoreError
            from sigstore.errors import VerificationError as SigstoreVerificationError
            from sigstore.models import Bundle
            from sigstore.verify import Verifier
        except ImportError as e:
            raise VerificationError(f"{KEYTYPE} keys need sigstore-python: {e}") from e

        from ._policy import FunctionaryPolicy
        from ._trust import configured_roots

        bundle_json = signature.unrecognized_fields.get("bundle")
        if bundle_json is None:
            raise self._fail(
                "the signature has no Sigstore bundle (a keyless signature carries its "
                "certificate and log entry in a 'bundle' member)"
            )
        try:
            roots = configured_roots()
        except ValueError as e:
            raise VerificationError(f"{KEYTYPE} key {self.keyid[:8]}: {e}") from e
        root = next((r for r in roots if r.ref == self._trust_root), None)
        if root is None:
            have = ", ".join(f"{r.path} is {r.ref}" for r in roots)
            raise self._fail(
                f"no trusted root in {TRUSTED_ROOT_ENV} is {self._trust_root}, the one the "
                f"key pins ({have})"
            )
        try:
            bundle = Bundle.from_json(json.dumps(bundle_json))
        except (SigstoreError, ValueError, TypeError, KeyError) as e:
            raise self._fail(f"the bundle does not parse: {e}") from e
        # Domain separation: only a DSSE envelope of Hallmark's own payload type counts. A
        # message signature over ``data`` is what any blob signer (hallmark sign, cosign
        # sign-blob, sigstore sign) makes for any file, so it proves no intent to sign this.
        envelope = bundle._dsse_envelope
        if envelope is None:
            raise self._fail(
                "the bundle holds a message signature, which any blob signer makes over any "
                "file: a keyless signature on a classic link or layout must be a DSSE envelope "
                f"of type {SIGNED_PAYLOAD_TYPE} over its canonical signed bytes (domain "
                "separation)"
            )
        if envelope._inner.payload_type != SIGNED_PAYLOAD_TYPE:
            raise self._fail(
                f"the bundle's DSSE payload type is {envelope._inner.payload_type!r}, not "
                f"{SIGNED_PAYLOAD_TYPE!r} (domain separation)"
            )
        if envelope._inner.payload != data:
            raise self._fail(
                "DSSE payload mismatch: the bundle's payload is not the canonical signed bytes"
            )
        try:
            sig = bytes.fromhex(signature.signature)
        except ValueError as e:
            raise self._fail(f"sig is not hex: {signature.signature!r}") from e
        if sig != bundle.signature:
            raise self._fail(
                f"sig {sig.hex()} is not the bundle's signature {bundle.signature.hex()}"
            )
        try:
            trusted_root = root.load()
        except (SigstoreError, ValueError, OSError) as e:
            raise VerificationError(f"trusted root {root.path} does not load: {e}") from e
        policy = FunctionaryPolicy(self._issuer, self._identity, self._extensions)
        try:
            payload_type, payload = Verifier(trusted_root=trusted_root).verify_dsse(bundle, policy)
        except SigstoreVerificationError as e:
            raise self._fail(str(e)) from e
        # What the verification proved signed must be what was checked above.
        if (payload_type, payload) != (SIGNED_PAYLOAD_TYPE, data):
            raise self._fail(
                "DSSE payload mismatch: the verified envelope is not a "
                f"{SIGNED_PAYLOAD_TYPE} envelope of the canonical signed bytes"
            )


# Importing this module registers the key type (hallmark_securesystemslib._autoload relies on it).
KEY_FOR_TYPE_AND_SCHEME[(KEYTYPE, SCHEME)] = HallmarkOidcKey
