"""A real OpenID Connect provider for the tests, built on Authlib (its authorization server,
OpenID Connect code flow and PKCE), run as a separate process: its own RSA key, discovery
document, JWKS, authorization and token endpoints, and userinfo.

It knows one client (given on the command line) and one person, who has already signed in:
the authorization endpoint approves at once, as a provider does for a user with a live
session. ``python -m tests.integration.oidc_provider --port P --client-id … --secret …
--redirect-uri … --user alice --email … --groups a,b``; ``PUT /groups`` with a JSON list
changes the person's groups, as the provider's administrator would.
"""

from __future__ import annotations

import argparse
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify
from flask import request as http_request
from joserfc.jwk import RSAKey

KEY = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "use": "sig"})


@dataclass
class Person:
    id: str
    username: str
    email: str
    groups: list[str]

    def get_user_id(self) -> str:
        return self.id


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uri: str
    scope: str = "openid profile email offline_access groups"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: Person
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return None

    def get_amr(self) -> list[str] | None:
        return None


@dataclass
class Token:
    access_token: str
    scope: str
    user: Person
    client_id: str
    expires_at: float

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.expires_at - time.time())

    def is_expired(self) -> bool:
        return time.time() > self.expires_at

    def is_revoked(self) -> bool:
        return False


def create_app(args: argparse.Namespace) -> Flask:
    issuer = f"http://127.0.0.1:{args.port}"
    person = Person("subject-" + args.user, args.user, args.email, args.groups.split(","))
    client = Client(args.client_id, args.secret, args.redirect_uri)
    codes: dict[str, Code] = {}
    tokens: dict[str, Token] = {}
    nonces: set[str] = set()

    def user_info(user: Person, scope: str) -> UserInfo:
        info = UserInfo(sub=user.id, preferred_username=user.username, name=user.username)
        if "email" in scope:
            info["email"] = user.email
        if "groups" in scope:
            info["groups"] = user.groups
        return info

    class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

        def save_authorization_code(self, code: str, request: Any) -> None:
            data = request.payload.data
            nonce = data.get("nonce")
            if nonce:
                nonces.add(nonce)
            codes[code] = Code(
                code,
                request.client.client_id,
                request.payload.redirect_uri,
                request.scope,
                request.user,
                nonce,
                data.get("code_challenge"),
                data.get("code_challenge_method"),
            )

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            found = codes.get(code)
            return found if found is not None and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> Person:
            return authorization_code.user

    class IdToken(OpenIDCode):  # type: ignore[misc]
        def exists_nonce(self, nonce: str, request: Any) -> bool:
            return nonce in nonces

        def resolve_client_private_key(self, client: Client) -> RSAKey:
            return KEY

        def get_client_algorithm(self, client: Client) -> str:
            return "RS256"

        def get_client_claims(self, client: Client) -> dict[str, Any]:
            return {"iss": issuer, "aud": [client.client_id]}

        def get_encode_header(self, client: Client) -> dict[str, str]:
            return {"alg": "RS256", "kid": str(KEY.kid)}

        def generate_user_info(self, user: Person, scope: str) -> UserInfo:
            return user_info(user, scope)

    def save_token(token: dict[str, Any], request: Any) -> None:
        tokens[token["access_token"]] = Token(
            token["access_token"],
            token.get("scope", ""),
            request.user,
            request.client.client_id,
            time.time() + int(token.get("expires_in", 3600)),
        )

    app = Flask(__name__)
    server = AuthorizationServer(
        app,
        query_client=lambda client_id: client if client_id == client.client_id else None,
        save_token=save_token,
    )
    server.register_grant(CodeGrant, [IdToken(require_nonce=True), CodeChallenge(required=True)])

    class Validator(BearerTokenValidator):  # type: ignore[misc]
        def authenticate_token(self, token_string: str) -> Token | None:
            return tokens.get(token_string)

    protected = ResourceProtector()
    protected.register_token_validator(Validator())

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        return jsonify(
            issuer=issuer,
            authorization_endpoint=f"{issuer}/authorize",
            token_endpoint=f"{issuer}/token",
            userinfo_endpoint=f"{issuer}/userinfo",
            jwks_uri=f"{issuer}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            code_challenge_methods_supported=["S256"],
            scopes_supported=client.scope.split(),
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
        )

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify(keys=[KEY.as_dict(private=False)])

    @app.get("/authorize")
    def authorize() -> Any:
        # The person is signed in already and consents.
        return server.create_authorization_response(grant_user=person)

    @app.post("/token")
    def issue_token() -> Any:
        return server.create_token_response()

    @app.get("/userinfo")
    @protected("openid")  # type: ignore[untyped-decorator]
    def userinfo() -> Any:
        from authlib.integrations.flask_oauth2 import current_token

        return jsonify(dict(user_info(current_token.user, current_token.scope)))

    @app.put("/groups")
    def set_groups() -> Any:
        # What the provider's administrator would change in its directory: the groups the
        # person is in from the next sign-in on.
        person.groups = [str(g) for g in http_request.get_json(force=True)]
        return jsonify(groups=person.groups)

    @app.get("/health")
    def health() -> Any:
        return jsonify(ok=True)

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("--port", "--client-id", "--secret", "--redirect-uri", "--user", "--email"):
        parser.add_argument(name, required=True)
    parser.add_argument("--groups", default="")
    args = parser.parse_args()
    create_app(args).run(host="127.0.0.1", port=int(args.port))


if __name__ == "__main__":
    main()
