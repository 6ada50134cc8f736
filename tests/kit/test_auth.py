"""Bearer JWT: missing, malformed, expired, wrongly signed or wrongly addressed tokens, and tokens that live too
long, answer 401 on every protected route."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI

from rakuten_connector.kit.auth import (
    ALGORITHM,
    DEFAULT_JWT_AUDIENCE,
    DEFAULT_JWT_ISSUER,
    Role,
    decode_token,
    issue_token,
)
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.errors import ApiError
from rakuten_connector.settings import Settings
from tests.conftest import JWT_SECRET, auth_headers

DEFAULT_POLICY = Settings().token_policy

NOW = int(utcnow().timestamp())
HOUR = 3600

PROTECTED = [
    ("GET", "/v1/connections"),
    ("POST", "/v1/connections"),
    ("GET", "/v1/connections/00000000-0000-4000-8000-000000000000"),
    ("PATCH", "/v1/connections/00000000-0000-4000-8000-000000000000"),
    ("DELETE", "/v1/connections/00000000-0000-4000-8000-000000000000"),
]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token(claims: dict[str, object], secret: str = JWT_SECRET, algorithm: str = ALGORITHM) -> str:
    base: dict[str, object] = {
        "sub": "u",
        "merchant_id": "m",
        "role": "merchant",
        "iss": DEFAULT_JWT_ISSUER,
        "aud": DEFAULT_JWT_AUDIENCE,
        "iat": NOW,
        "exp": NOW + HOUR,
    }
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, secret, algorithm=algorithm)


BAD_HEADERS = {
    "missing": {},
    "not-bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    "empty-bearer": {"Authorization": "Bearer "},
    "garbage": _bearer("not.a.jwt"),
    "expired": auth_headers("m", ttl=timedelta(minutes=-5)),
    "wrong-secret": _bearer(_token({}, secret="another-secret-entirely-0123456789")),
    "alg-none": _bearer("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1IiwibWVyY2hhbnRfaWQiOiJtIiwicm9sZSI6Im1lcmNoYW50In0."),
    "no-exp": _bearer(_token({"exp": None})),
    "no-iat": _bearer(_token({"iat": None})),
    "no-iss": _bearer(_token({"iss": None})),
    "wrong-iss": _bearer(_token({"iss": "someone-else"})),
    "no-aud": _bearer(_token({"aud": None})),
    "wrong-aud": _bearer(_token({"aud": "another-api"})),
    "iat-in-the-future": _bearer(_token({"iat": NOW + HOUR, "exp": NOW + 2 * HOUR})),
    "lives-too-long": _bearer(_token({"exp": NOW + 24 * HOUR + 1})),
    "iat-not-a-number": _bearer(_token({"iat": "yesterday"})),
    "iat-a-numeric-string": _bearer(_token({"iat": str(NOW)})),
    "exp-a-numeric-string": _bearer(_token({"exp": str(NOW + HOUR)})),
    "iat-a-boolean": _bearer(_token({"iat": True})),
    "exp-infinite": _bearer(_token({"exp": float("inf")})),
    "iat-minus-infinite": _bearer(_token({"iat": float("-inf")})),
    "iat-nan": _bearer(_token({"iat": float("nan")})),
    "no-merchant": _bearer(_token({"merchant_id": None})),
    "unknown-role": _bearer(_token({"role": "admin"})),
    "hs512": _bearer(_token({}, algorithm="HS512")),
}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
async def test_bad_or_missing_tokens_get_401(client: httpx.AsyncClient, method: str, path: str, case: str) -> None:
    response = await client.request(method, path, headers=BAD_HEADERS[case], json={})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_issued_tokens_round_trip() -> None:
    principal = decode_token(JWT_SECRET, issue_token(JWT_SECRET, "m-1", Role.OPERATOR), DEFAULT_POLICY)
    assert (principal.merchant_id, principal.role, principal.is_operator) == ("m-1", Role.OPERATOR, True)
    claims = jwt.decode(
        issue_token(JWT_SECRET, "m-1"), JWT_SECRET, algorithms=[ALGORITHM], audience=DEFAULT_JWT_AUDIENCE
    )
    assert (claims["iss"], claims["aud"]) == (DEFAULT_JWT_ISSUER, DEFAULT_JWT_AUDIENCE)
    assert claims["exp"] - claims["iat"] == 12 * HOUR


async def test_a_token_of_exactly_the_maximum_lifetime_is_accepted(client: httpx.AsyncClient) -> None:
    token = _token({"iat": NOW, "exp": NOW + 24 * HOUR})
    assert (await client.get("/v1/connections", headers=_bearer(token))).status_code == 200


def test_an_audience_list_that_names_this_api_is_accepted() -> None:
    token = _token({"aud": ["another-api", DEFAULT_JWT_AUDIENCE]})
    assert decode_token(JWT_SECRET, token, DEFAULT_POLICY).merchant_id == "m"


def test_the_policy_follows_the_settings() -> None:
    settings = Settings(
        auth_jwt_issuer="idp.example", auth_jwt_audience="connector", auth_jwt_max_lifetime_seconds=600
    )
    policy = settings.token_policy
    assert (policy.issuer, policy.audience, policy.max_lifetime_seconds) == ("idp.example", "connector", 600)
    good = issue_token(JWT_SECRET, "m", ttl=timedelta(minutes=10), issuer="idp.example", audience="connector")
    assert decode_token(JWT_SECRET, good, policy).merchant_id == "m"
    for token in (
        issue_token(JWT_SECRET, "m", ttl=timedelta(minutes=10)),  # the default issuer and audience
        issue_token(JWT_SECRET, "m", ttl=timedelta(minutes=11), issuer="idp.example", audience="connector"),
    ):
        with pytest.raises(ApiError) as raised:
            decode_token(JWT_SECRET, token, policy)
        assert raised.value.status_code == 401


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Authentication is required."),
        ({"Authorization": ""}, "Authentication is required."),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "The Authorization header must be 'Bearer <token>'."),
        ({"Authorization": "Bearer"}, "The Authorization header must be 'Bearer <token>'."),
        ({"Authorization": "Bearer    "}, "The Authorization header must be 'Bearer <token>'."),
        ({"Authorization": "Bearer not.a.jwt"}, "The token is not valid."),
    ],
    ids=["no-header", "empty", "basic", "scheme-only", "blank-token", "garbage"],
)
async def test_each_bad_header_is_told_what_is_wrong(
    client: httpx.AsyncClient, headers: dict[str, str], message: str
) -> None:
    response = await client.get("/v1/connections", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "unauthorized", "message": message, "details": None}}
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer {t}", "bearer {t}", "BEARER {t}", "Bearer   {t}  "])
async def test_the_bearer_scheme_is_read_as_before(client: httpx.AsyncClient, header: str) -> None:
    """What /docs' Authorize button sends (`Bearer <token>`), and the spellings accepted before."""
    response = await client.get("/v1/connections", headers={"Authorization": header.format(t=_token({}))})
    assert response.status_code == 200, response.text


async def test_every_operation_the_document_secures_answers_401_without_a_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The document's security requirements are the truth: each secured operation refuses a missing
    token, and each operation it leaves open does not ask for one."""
    document = app.openapi()
    some_id = "00000000-0000-4000-8000-000000000000"
    for path, methods in document["paths"].items():
        url = re.sub(r"\{[^}]+\}", some_id, path)
        for method, operation in methods.items():
            response = await client.request(method.upper(), url, json={})
            code = response.json()["error"]["code"] if response.status_code >= 400 else None
            if operation.get("security"):
                assert (response.status_code, code) == (401, "unauthorized"), (method, path)
            else:
                assert code != "unauthorized", (method, path)
