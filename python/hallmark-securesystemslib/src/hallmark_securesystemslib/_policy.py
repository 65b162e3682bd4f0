"""The certificate policy of a ``hallmark-oidc`` key, as a sigstore-python ``VerificationPolicy``.

It reads what Hallmark's verifier reads from a Fulcio certificate:

- the OIDC issuer: extension 1.3.6.1.4.1.57264.1.8 (DER UTF8String), else the deprecated ``.1.1``
  (raw UTF-8); when both are present they must agree;
- the identity: the certificate's one SAN value (email, URI, DNS name, or the ``.1.7``
  otherName username); Fulcio writes exactly one, and a certificate with several is refused
  rather than matched by any of them;
- CI extensions by the names of sigstore-go's ``certificate.Extensions`` (``.1.2``-``.1.6`` raw
  UTF-8, ``.1.9``-``.1.23`` DER UTF8String).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ExtensionOID
from sigstore.errors import VerificationError

from ._match import TextMatch

_FULCIO = "1.3.6.1.4.1.57264.1."

EXTENSION_ARCS: dict[str, int] = {
    "githubWorkflowTrigger": 2,
    "githubWorkflowSHA": 3,
    "githubWorkflowName": 4,
    "githubWorkflowRepository": 5,
    "githubWorkflowRef": 6,
    "buildSignerURI": 9,
    "buildSignerDigest": 10,
    "runnerEnvironment": 11,
    "sourceRepositoryURI": 12,
    "sourceRepositoryDigest": 13,
    "sourceRepositoryRef": 14,
    "sourceRepositoryIdentifier": 15,
    "sourceRepositoryOwnerURI": 16,
    "sourceRepositoryOwnerIdentifier": 17,
    "buildConfigURI": 18,
    "buildConfigDigest": 19,
    "buildTrigger": 20,
    "runInvocationURI": 21,
    "sourceRepositoryVisibilityAtSigning": 22,
    "deploymentEnvironment": 23,
}
"""Extension names (as layouts write them; Hallmark's ``CiExtension::json_name``) and their
last arc under 1.3.6.1.4.1.57264.1."""

_ISSUER_V1 = x509.ObjectIdentifier(_FULCIO + "1")
_USERNAME_SAN = x509.ObjectIdentifier(_FULCIO + "7")
_ISSUER_V2 = x509.ObjectIdentifier(_FULCIO + "8")


def _der_utf8string(der: bytes) -> str | None:
    """The text of a DER UTF8String (tag 0x0C), or ``None`` when ``der`` is not exactly one."""
    if len(der) < 2 or der[0] != 0x0C:
        return None
    length, offset = der[1], 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or len(der) < 2 + count:
            return None
        length = int.from_bytes(der[2 : 2 + count], "big")
        offset = 2 + count
    if len(der) != offset + length:
        return None
    try:
        return der[offset:].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _extension_value(cert: x509.Certificate, oid: x509.ObjectIdentifier, raw: bool) -> str | None:
    """A Fulcio extension's text, ``None`` when absent.

    Raises:
        VerificationError: Present but not UTF-8 (raw) or not a DER UTF8String.
    """
    try:
        ext = cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    data = getattr(ext, "value", b"")
    if raw:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise VerificationError(
                f"certificate extension {oid.dotted_string} is not UTF-8"
            ) from e
    text = _der_utf8string(data)
    if text is None:
        raise VerificationError(
            f"certificate extension {oid.dotted_string} is not a DER UTF8String"
        )
    return text


def certificate_issuer(cert: x509.Certificate) -> str:
    """The OIDC issuer the certificate carries.

    Raises:
        VerificationError: Neither issuer extension, or the two disagree.
    """
    v2 = _extension_value(cert, _ISSUER_V2, raw=False)
    v1 = _extension_value(cert, _ISSUER_V1, raw=True)
    if v2 is not None and v1 is not None and v1 != v2:
        raise VerificationError(
            f"certificate issuer extensions disagree: {_ISSUER_V2.dotted_string} is {v2!r}, "
            f"{_ISSUER_V1.dotted_string} is {v1!r}"
        )
    issuer = v2 if v2 is not None else v1
    if issuer is None:
        raise VerificationError(
            f"certificate has no OIDC issuer extension ({_ISSUER_V2.dotted_string} or "
            f"{_ISSUER_V1.dotted_string})"
        )
    return issuer


def certificate_identity(cert: x509.Certificate) -> str:
    """The certificate's one SAN value.

    Raises:
        VerificationError: No SAN, or more than one value.
    """
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound as e:
        raise VerificationError("certificate has no subjectAltName") from e
    values: list[str] = []
    values += san.get_values_for_type(x509.RFC822Name)
    values += san.get_values_for_type(x509.UniformResourceIdentifier)
    values += san.get_values_for_type(x509.DNSName)
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id == _USERNAME_SAN:
            text = _der_utf8string(other.value)
            if text is None:
                raise VerificationError("certificate's username SAN is not a DER UTF8String")
            values.append(text)
    if len(values) != 1:
        raise VerificationError(
            f"certificate has {len(values)} SAN values {values!r}; a Fulcio certificate has one"
        )
    return values[0]


class FunctionaryPolicy:
    """Issuer, identity and extension constraints of one ``hallmark-oidc`` key."""

    def __init__(
        self, issuer: TextMatch, identity: TextMatch, extensions: dict[str, TextMatch]
    ) -> None:
        """A policy from parsed constraints (``extensions`` keyed by :data:`EXTENSION_ARCS`)."""
        self._issuer = issuer
        self._identity = identity
        self._extensions = extensions

    def verify(self, cert: x509.Certificate) -> None:
        """Raises sigstore's ``VerificationError`` naming the first constraint ``cert`` fails."""
        issuer = certificate_issuer(cert)
        if not self._issuer.is_match(issuer):
            raise VerificationError(
                f"issuer mismatch: the key expects {self._issuer}, the certificate has {issuer!r}"
            )
        identity = certificate_identity(cert)
        if not self._identity.is_match(identity):
            raise VerificationError(
                f"identity mismatch: the key expects {self._identity}, the certificate has "
                f"{identity!r}"
            )
        for name, constraint in self._extensions.items():
            arc = EXTENSION_ARCS[name]
            oid = x509.ObjectIdentifier(f"{_FULCIO}{arc}")
            actual = _extension_value(cert, oid, raw=arc < 7)
            if actual is None or not constraint.is_match(actual):
                raise VerificationError(
                    f"certificate extension {name} ({oid.dotted_string}) mismatch: the key "
                    f"expects {constraint}, the certificate has "
                    f"{'none' if actual is None else repr(actual)}"
                )
