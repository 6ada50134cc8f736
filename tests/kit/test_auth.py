"""Bearer JWT: missing, malformed, expired or wrongly signed tokens answer 401 on every protected route."""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
import pytest

from rakuten_connector.kit.auth import ALGORITHM, Role, decode_token, issue_token
from tests.conftest import JWT_SECRET, auth_headers

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
    base: dict[str, object] = {"sub": "u", "merchant_id": "m", "role": "merchant", "exp": 4102444800}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, secret, algorithm=algorithm)


BAD_HEADERS = {
    "missing": {},
    "not-bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    "empty-bearer": {"Authorization": "Bearer "},
    "garbage": _bearer("not.a.jwt"),
    "expired": auth_headers("m", ttl=timedelta(seconds=-10)),
    "wrong-secret": _bearer(_token({}, secret="another-secret-entirely-0123456789")),
    "alg-none": _bearer("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1IiwibWVyY2hhbnRfaWQiOiJtIiwicm9sZSI6Im1lcmNoYW50In0."),
    "no-exp": _bearer(_token({"exp": None})),
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
    principal = decode_token(JWT_SECRET, issue_token(JWT_SECRET, "m-1", Role.OPERATOR))
    assert (principal.merchant_id, principal.role, principal.is_operator) == ("m-1", Role.OPERATOR, True)
