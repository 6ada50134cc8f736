"""Bearer JWT auth (HS256): claims sub, merchant_id, role, exp."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, Request

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.errors import ApiError
from rakuten_connector.settings import Settings, get_settings

ALGORITHM = "HS256"


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


def issue_token(
    secret: str,
    merchant_id: str,
    role: Role = Role.MERCHANT,
    ttl: timedelta = timedelta(hours=12),
    subject: str = "",
) -> str:
    now = utcnow()
    claims = {
        "sub": subject or f"{role.value}:{merchant_id}",
        "merchant_id": merchant_id,
        "role": role.value,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def decode_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "merchant_id", "role"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise _unauthorized("The token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise _unauthorized("The token is not valid.") from exc
    merchant_id, role, subject = claims.get("merchant_id"), claims.get("role"), claims.get("sub")
    if not isinstance(merchant_id, str) or not merchant_id or not isinstance(subject, str):
        raise _unauthorized("The token is not valid.")
    try:
        parsed_role = Role(str(role))
    except ValueError as exc:
        raise _unauthorized("The token has an unknown role.") from exc
    return Principal(subject=subject, merchant_id=merchant_id, role=parsed_role)


def current_principal(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> Principal:
    header = request.headers.get("authorization")
    if not header:
        raise _unauthorized("Authentication is required.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("The Authorization header must be 'Bearer <token>'.")
    return decode_token(settings.auth_jwt_secret.get_secret_value(), token.strip())


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
