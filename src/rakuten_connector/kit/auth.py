"""Bearer JWT auth (HS256): claims sub, merchant_id, role, iss, aud, iat and exp, all required.

A token is accepted only when its issuer and audience are the configured ones and it lives no longer than
the configured maximum (`exp - iat`); PyJWT checks the signature, the claims' presence, `iss`, `aud`, `exp`
and that `iat` is not in the future (with a small leeway for clock skew).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

import jwt
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.errors import ApiError

DEFAULT_JWT_ISSUER = "rakuten-connector"
DEFAULT_JWT_AUDIENCE = "rakuten-connector-api"
ALGORITHM = "HS256"
# Clock skew tolerated between the issuer and this API, on `exp` and `iat`.
LEEWAY_SECONDS = 30
_REQUIRED_CLAIMS = ["sub", "merchant_id", "role", "iss", "aud", "iat", "exp"]

SECURITY_SCHEME = "bearerAuth"
# Declares the scheme in the OpenAPI document (the Authorize button of /docs) and reads the header; it
# never answers itself (`auto_error=False`): `bearer_token` gives the API's own 401s.
BEARER = HTTPBearer(
    scheme_name=SECURITY_SCHEME,
    bearerFormat="JWT",
    description="A JWT signed with HS256 carrying `sub`, `merchant_id`, `role` (`merchant` or `operator`), "
    "`iss`, `aud`, `iat` and `exp` (`rakuten-connector token --merchant-id M` prints one for local use).",
    auto_error=False,
)


class Role(StrEnum):
    MERCHANT = "merchant"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Principal:
    subject: str
    merchant_id: str
    role: Role

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR


@dataclass(frozen=True)
class TokenPolicy:
    """What a token must say to be accepted (a deployment's settings build it: `Settings.token_policy`)."""

    issuer: str
    audience: str
    max_lifetime_seconds: int


def issue_token(
    secret: str,
    merchant_id: str,
    role: Role = Role.MERCHANT,
    ttl: timedelta = timedelta(hours=12),
    subject: str = "",
    *,
    issuer: str = DEFAULT_JWT_ISSUER,
    audience: str = DEFAULT_JWT_AUDIENCE,
) -> str:
    now = utcnow()
    claims = {
        "sub": subject or f"{role.value}:{merchant_id}",
        "merchant_id": merchant_id,
        "role": role.value,
        "iss": issuer,
        "aud": audience,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def decode_token(secret: str, token: str, policy: TokenPolicy) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=policy.audience,
            issuer=policy.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": _REQUIRED_CLAIMS, "verify_iat": True},
        )
    except jwt.ExpiredSignatureError as exc:
        raise _unauthorized("The token has expired.") from exc
    except jwt.InvalidIssuerError as exc:
        raise _unauthorized("The token was not issued for this API (iss).") from exc
    except jwt.InvalidAudienceError as exc:
        raise _unauthorized("The token was not issued for this API (aud).") from exc
    except jwt.PyJWTError as exc:
        raise _unauthorized("The token is not valid.") from exc
    issued_at, expires_at = claims["iat"], claims["exp"]
    # PyJWT reads `iat` through int(), so "1700000000" passes it: only real numbers do here.
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (issued_at, expires_at)):
        raise _unauthorized("The token is not valid.")
    if expires_at - issued_at > policy.max_lifetime_seconds:
        raise _unauthorized(f"The token lives longer than {policy.max_lifetime_seconds} seconds.")
    merchant_id, role, subject = claims.get("merchant_id"), claims.get("role"), claims.get("sub")
    if not isinstance(merchant_id, str) or not merchant_id or not isinstance(subject, str):
        raise _unauthorized("The token is not valid.")
    try:
        parsed_role = Role(str(role))
    except ValueError as exc:
        raise _unauthorized("The token has an unknown role.") from exc
    return Principal(subject=subject, merchant_id=merchant_id, role=parsed_role)


def token_of(credentials: HTTPAuthorizationCredentials | None, header: str | None) -> str:
    """The bearer token `BEARER` read, or the 401 saying what is wrong with the `Authorization` header
    (`BEARER` gives None for a missing header and for another scheme alike)."""
    token = credentials.credentials.strip() if credentials is not None else ""
    return token or bearer_token(header)


def bearer_token(header: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; 401 when there is none."""
    if not header:
        raise _unauthorized("Authentication is required.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("The Authorization header must be 'Bearer <token>'.")
    return token.strip()
