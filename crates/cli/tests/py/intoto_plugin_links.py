"""Builds the keyless classic links and layouts for crates/cli/tests/intoto_python_plugin.rs.

Usage: python intoto_plugin_links.py PLAN.json

PLAN: {"trust_config": path, "token": OIDC token, "out": dir,
       "scenarios": {name: {"keyval": {...}, "keyid": Hallmark's key id for it,
                            "link": "good" | "tampered_materials" | "tampered_proof"
                                    | "no_bundle" | "other_sig"}}}

With the real parts only: in-toto 3.1.0's models for links and layouts, securesystemslib's
canonical JSON and CryptoSigner for the classic keys, sigstore-python 4.5.1 signing keylessly
against the test's Hallmark stack. For each scenario it writes OUT/NAME/{root.layout,
owner.pub, links/build.<K8>.link, links/package.<K8>.link}: a two-step layout (a keyless
"build" step named by a hallmark-oidc key, a classic "package" step) signed by a fresh owner
key. Prints the certificate's notAfter (ISO 8601) for the time checks.
"""

import base64
import copy
import json
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hallmark_securesystemslib import HallmarkOidcKey
from in_toto.models.layout import Layout, Step
from in_toto.models.link import Link
from in_toto.models.metadata import Metablock
from securesystemslib.signer import CryptoSigner, Key
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

with open(sys.argv[1]) as f:
    plan = json.load(f)
out = plan["out"]

SRC = {"src/main.c": {"sha256": "1" * 64}}
APP = {"app": {"sha256": "2" * 64}}
TAR = {"app.tar": {"sha256": "3" * 64}}


def link(name, materials, products, command, byproducts):
    """An in-toto link (in a Metablock, unsigned)."""
    return Metablock(
        signed=Link(
            name=name,
            materials=materials,
            products=products,
            command=command,
            byproducts=byproducts,
            environment={},
        )
    )


# The keyless link: canonical bytes of `signed`, signed by sigstore-python against the stack.
build = link(
    "build",
    SRC,
    APP,
    ["cc", "-o", "app", "src/main.c"],
    {"return-value": 0, "stdout": "", "stderr": ""},
)
data = build.signed.signable_bytes
with open(plan["trust_config"]) as f:
    ctx = SigningContext.from_trust_config(ClientTrustConfig.from_json(f.read()))
with ctx.signer(IdentityToken(plan["token"]), cache=True) as signer:
    # A first entry, so the link's entry has a non-empty inclusion path to tamper with.
    signer.sign_artifact(b"an earlier log entry\n")
    bundle = signer.sign_artifact(data)
bundle_json = json.loads(bundle.to_json())
sig_hex = bundle.signature.hex()
print(bundle.signing_certificate.not_valid_after_utc.isoformat())

# The classic step, signed by a functionary key.
functionary = CryptoSigner(ec.generate_private_key(ec.SECP256R1()))
package = link("package", APP, TAR, ["tar", "cf", "app.tar", "app"], {})
package.create_signature(functionary)
functionary_key = functionary.public_key.to_dict()
functionary_key["keyid"] = functionary.public_key.keyid

owner_private = ed25519.Ed25519PrivateKey.generate()
owner = CryptoSigner(owner_private)
owner_pem = owner_private.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def keyless_link(kind, keyid):
    sig = {"keyid": keyid, "sig": sig_hex, "bundle": copy.deepcopy(bundle_json)}
    doc = {"signed": json.loads(json.dumps(build.to_dict()["signed"])), "signatures": [sig]}
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
                expected_command=["cc", "-o", "app", "src/main.c"],
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
