"""An OpenID Connect provider on 127.0.0.1, for single sign-on tests.

It serves the four endpoints the portal uses (authorize, token, userinfo,
jwks) from a thread, signs ID tokens with an RSA key made at start-up, and
checks what a real provider checks: the client and its secret, the redirect
address, the PKCE verifier, one use per code, the access token.
"""

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "switchboard-tests"
CLIENT_SECRET = "fake-provider-secret"
KEY_ID = "fake-key-1"


class FakeProvider:
    """Signs in whoever `person` names: the claims of the next sign-in."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.person: dict = {}
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def settings(self) -> dict:
        """Return the portal settings that point single sign-on here."""
        return {
            "OIDC_RP_CLIENT_ID": CLIENT_ID,
            "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{self.url}/authorize",
            "OIDC_OP_TOKEN_ENDPOINT": f"{self.url}/token",
            "OIDC_OP_USER_ENDPOINT": f"{self.url}/userinfo",
            "OIDC_OP_JWKS_ENDPOINT": f"{self.url}/jwks",
            "OIDC_RP_SIGN_ALGO": "RS256",
        }

    def authorize(self, query: dict) -> tuple[int, dict]:
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return 400, {"error": "invalid_request"}
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "person": dict(self.person),
            "nonce": query.get("nonce"),
            "redirect_uri": query["redirect_uri"],
            "code_challenge": query.get("code_challenge"),
        }
        location = (
            query["redirect_uri"]
            + "?"
            + urlencode({"code": code, "state": query["state"]})
        )
        return 302, {"Location": location}

    def token(self, form: dict) -> tuple[int, dict]:
        grant = self.codes.pop(form.get("code"), None)
        if (
            grant is None
            or form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
            or form.get("redirect_uri") != grant["redirect_uri"]
        ):
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if grant["code_challenge"] != challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        person = grant["person"]
        now = int(time.time())
        id_token = jwt.encode(
            {
                "iss": self.url,
                "aud": CLIENT_ID,
                "sub": person["sub"],
                "iat": now,
                "exp": now + 300,
                "nonce": grant["nonce"],
            },
            self.key,
            algorithm="RS256",
            headers={"kid": KEY_ID},
        )
        access_token = secrets.token_urlsafe(16)
        self.access_tokens[access_token] = person
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }

    def userinfo(self, authorization: str) -> tuple[int, dict]:
        person = self.access_tokens.get(authorization.removeprefix("Bearer "))
        if person is None:
            return 401, {"error": "invalid_token"}
        return 200, person

    def jwks(self) -> tuple[int, dict]:
        key = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return 200, {"keys": [{**key, "kid": KEY_ID, "alg": "RS256", "use": "sig"}]}


def _handler_for(provider: FakeProvider):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            query = {name: values[0] for name, values in parse_qs(url.query).items()}
            if url.path == "/authorize":
                self.answer(*provider.authorize(query))
            elif url.path == "/userinfo":
                self.answer(*provider.userinfo(self.headers.get("Authorization", "")))
            elif url.path == "/jwks":
                self.answer(*provider.jwks())
            else:
                self.answer(404, {"error": "not_found"})

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
            if urlsplit(self.path).path == "/token":
                self.answer(*provider.token(form))
            else:
                self.answer(404, {"error": "not_found"})

        def answer(self, status: int, content: dict):
            self.send_response(status)
            if status == 302:
                self.send_header("Location", content["Location"])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.dumps(content).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    return Handler
