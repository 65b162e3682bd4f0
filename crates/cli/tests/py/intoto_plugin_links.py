"""Builds the keyless classic links and layouts for crates/cli/tests/intoto_python_plugin.rs.

Usage: python intoto_plugin_links.py PLAN.json

PLAN: {"trust_config": path, "token": OIDC token, "out": dir,
       "link": a keyless classic link written by `hallmark intoto run --classic`,
       "payload_type": Hallmark's DSSE payload type for such links (the Rust constant),
       "scenarios": {name: {"keyval": {...}, "keyid": Hallmark's key id for it,
                            "link": "good" | "tampered_materials" | "tampered_proof"
                                    | "no_bundle" | "other_sig" | "message_signature"}}}

With the real parts only: in-toto 3.1.0's models for links and layouts, securesystemslib's
canonical JSON and CryptoSigner for the classic keys, sigstore-python 4.5.1 for the message
signature (the blob signature the plugin must refuse), against the test's Hallmark stack. The
keyless link is Hallmark's own (sigstore-python cannot sign a non-in-toto DSSE payload type);
it is re-keyed per scenario (the key id is not covered by its signature). For each scenario
it writes OUT/NAME/{root.layout, owner.pub, links/build.<K8>.link,
links/package.<K8>.link}: a two-step layout (a keyless "build" step named by a hallmark-oidc
key, a classic "package" step) signed by a fresh owner key. Prints the certificate's notAfter
(ISO 8601) for the time checks.
"""

import base64
import copy
import json
import os
import sys

import hallmark_securesystemslib
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hallmark_securesystemslib import HallmarkOidcKey
from in_toto.models.layout import Layout, Step
from in_toto.models.link import Link
from in_toto.models.metadata import Metablock
from securesystemslib.signer import CryptoSigner, Key
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

with open(sys.argv[1]) as f:
    plan = json.load(f)
out = plan["out"]

# The plugin and Hallmark agree on the payload type.
payload_type = plan["payload_type"]
assert hallmark_securesystemslib.SIGNED_PAYLOAD_TYPE == payload_type, payload_type

# Hallmark's keyless link: a DSSE envelope of Hallmark's type over the canonical bytes of
# `signed`, as in-toto (securesystemslib's canonical JSON) computes them.
with open(plan["link"]) as f:
    hallmark_link = json.load(f)
build = Metablock.load(plan["link"])
assert isinstance(build.signed, Link), type(build.signed)
data = build.signed.signable_bytes
bundle_json = hallmark_link["signatures"][0]["bundle"]
envelope = bundle_json["dsseEnvelope"]
assert envelope["payloadType"] == payload_type, envelope["payloadType"]
assert base64.b64decode(envelope["payload"]) == data, "not in-toto's canonical bytes"
sig_hex = hallmark_link["signatures"][0]["sig"]
hallmark_bundle = Bundle.from_json(json.dumps(bundle_json))
assert hallmark_bundle.signature.hex() == sig_hex
print(hallmark_bundle.signing_certificate.not_valid_after_utc.isoformat())

# The attack the plugin must refuse: a blob signature (message signature) by the same
# identity over the same canonical bytes, as `sigstore sign` or `cosign sign-blob` makes.
with open(plan["trust_config"]) as f:
    ctx = SigningContext.from_trust_config(ClientTrustConfig.from_json(f.read()))
with ctx.signer(IdentityToken(plan["token"]), cache=True) as signer:
    blob_bundle = signer.sign_artifact(data)
blob_json = json.loads(blob_bundle.to_json())
assert "messageSignature" in blob_json, blob_json.keys()

# The classic step, signed by a functionary key; it consumes what build produced.
APP = {"app": hallmark_link["signed"]["products"]["app"]}
TAR = {"app.tar": {"sha256": "3" * 64}}
functionary = CryptoSigner(ec.generate_private_key(ec.SECP256R1()))
package = Metablock(
    signed=Link(
        name="package",
        materials=APP,
        products=TAR,
        command=["tar", "cf", "app.tar", "app"],
        byproducts={},
        environment={},
    )
)
package.create_signature(functionary)
functionary_key = functionary.public_key.to_dict()
functionary_key["keyid"] = functionary.public_key.keyid

owner_private = ed25519.Ed25519PrivateKey.generate()
owner = CryptoSigner(owner_private)
owner_pem = owner_private.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def keyless_link(kind, keyid):
    doc = copy.deepcopy(hallmark_link)
    sig = doc["signatures"][0]
    # Re-keyed: the key id is not covered by the signature.
    sig["keyid"] = keyid
    if kind == "tampered_materials":
        doc["signed"]["materials"]["src/main.c"]["sha256"] = "f" * 64
    elif kind == "tampered_proof":
        proof = sig["bundle"]["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
        h = bytearray(base64.b64decode(proof["hashes"][0]))
        h[0] ^= 0x01
        proof["hashes"][0] = base64.b64encode(bytes(h)).decode()
    elif kind == "no_bundle":
        del sig["bundle"]
    elif kind == "other_sig":
        sig["sig"] = sig_hex[:-2] + ("00" if sig_hex[-2:] != "00" else "01")
    elif kind == "message_signature":
        sig["sig"] = blob_bundle.signature.hex()
        sig["bundle"] = copy.deepcopy(blob_json)
    else:
        assert kind == "good", kind
    return doc


for name, sc in plan["scenarios"].items():
    keyval = sc["keyval"]
    keyid = HallmarkOidcKey.from_keyval(keyval).keyid
    # The plugin's key id is Hallmark's: SHA-256 of the canonical {keytype, scheme, keyval}.
    assert keyid == sc["keyid"], (name, keyid, sc["keyid"])
    key_dict = {"keytype": "hallmark-oidc", "scheme": "hallmark-oidc-v1", "keyval": keyval}
    # Through securesystemslib's registry (the .pth registered the plugin), verbatim both ways.
    parsed = Key.from_dict(keyid, copy.deepcopy(key_dict))
    assert isinstance(parsed, HallmarkOidcKey), type(parsed)
    assert parsed.to_dict() == key_dict, (parsed.to_dict(), key_dict)
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "links"))
    layout = Layout(
        expires="2099-01-01T00:00:00Z",
        keys={
            keyid: {
                "keyid": keyid,
                "keytype": "hallmark-oidc",
                "scheme": "hallmark-oidc-v1",
                "keyval": keyval,
            },
            functionary_key["keyid"]: functionary_key,
        },
        steps=[
            Step(
                name="build",
                pubkeys=[keyid],
                threshold=1,
                expected_command=hallmark_link["signed"]["command"],
                expected_materials=[["ALLOW", "src/main.c"], ["DISALLOW", "*"]],
                expected_products=[["CREATE", "app"], ["DISALLOW", "*"]],
            ),
            Step(
                name="package",
                pubkeys=[functionary_key["keyid"]],
                threshold=1,
                expected_command=["tar", "cf", "app.tar", "app"],
                expected_materials=[
                    ["MATCH", "app", "WITH", "PRODUCTS", "FROM", "build"],
                    ["DISALLOW", "*"],
                ],
                expected_products=[["CREATE", "app.tar"], ["DISALLOW", "*"]],
            ),
        ],
        inspect=[],
    )
    root = Metablock(signed=layout)
    root.create_signature(owner)
    root.dump(os.path.join(d, "root.layout"))
    with open(os.path.join(d, "owner.pub"), "wb") as f:
        f.write(owner_pem)
    with open(os.path.join(d, "links", f"build.{keyid[:8]}.link"), "w") as f:
        json.dump(keyless_link(sc["link"], keyid), f)
    package.dump(os.path.join(d, "links", f"package.{functionary_key['keyid'][:8]}.link"))

# Patterns Python's re and Rust's regex would read differently are refused at load time.
for pattern in [r"(a)\1", "(?=a).*", "a*+", "(?a)\\w+", "[a&&b]"]:
    bad = {
        "keytype": "hallmark-oidc",
        "scheme": "hallmark-oidc-v1",
        "keyval": {
            "issuer": "https://i",
            "identity": {"regex": pattern},
            "trust_root": "sha256:" + "0" * 64,
        },
    }
    try:
        Key.from_dict("k", bad)
    except ValueError as e:
        assert "regex" in str(e), e
    else:
        raise AssertionError(f"{pattern!r} was accepted")
print("LINKS OK")
