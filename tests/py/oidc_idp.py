"""A minimal OIDC identity provider for the image test: the stand-in for a cluster's
service-account issuer, independent of Hallmark's own code.

Serves OIDC discovery (/.well-known/openid-configuration) and a JWKS (/jwks) on loopback, and
mints ES256 JWTs for the claims POSTed to /mint (merged over iss/aud/iat/nbf/exp defaults);
/mint-forged signs the same way with a key the JWKS does not hold (under the same kid).
Prints its issuer URL on the first line of stdout, then serves until killed.
"""

import base64
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

KEY = ec.generate_private_key(ec.SECP256R1())
# Not in the JWKS: /mint-forged signs with it under KEY's kid, as a forger would.
FORGER = ec.generate_private_key(ec.SECP256R1())
KID = "image-test-1"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk() -> dict:
    n = KEY.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64u(n.x.to_bytes(32, "big")),
        "y": b64u(n.y.to_bytes(32, "big")),
        "kid": KID,
        "alg": "ES256",
        "use": "sig",
    }


def mint(issuer: str, claims: dict, key=KEY) -> str:
    now = int(time.time())
    body = {"iss": issuer, "aud": "sigstore", "iat": now, "nbf": now, "exp": now + 600}
    body.update(claims)
    header = {"alg": "ES256", "typ": "JWT", "kid": KID}
    signing_input = (
        b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(body).encode())
    ).encode()
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return signing_input.decode() + "." + b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        issuer = self.server.issuer
        if self.path == "/.well-known/openid-configuration":
            doc = {
                "issuer": issuer,
                "jwks_uri": issuer + "/jwks",
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
            }
            self._send(200, json.dumps(doc).encode())
        elif self.path == "/jwks":
            self._send(200, json.dumps({"keys": [jwk()]}).encode())
        else:
            self._send(404, b"not found\n", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        keys = {"/mint": KEY, "/mint-forged": FORGER}
        if self.path not in keys:
            self._send(404, b"not found\n", "text/plain")
            return
        claims = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        token = mint(self.server.issuer, claims, keys[self.path])
        self._send(200, token.encode(), "text/plain")

    def log_message(self, *args) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    print(server.issuer, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
