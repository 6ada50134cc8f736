"""Tokens this deployment accepts, as `rakuten-connector token` and the demo issue them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rakuten_connector.kit.auth import Role, decode_token
from rakuten_connector.settings import Settings
from rakuten_connector.tokens import issue_token_for


def test_a_token_for_this_deployment_cannot_outlive_what_it_accepts() -> None:
    settings = Settings(auth_jwt_max_lifetime_seconds=600)
    policy = settings.token_policy
    token = issue_token_for(settings, "m", ttl=timedelta(minutes=10))
    assert decode_token(settings.auth_jwt_secret.get_secret_value(), token, policy).merchant_id == "m"
    with pytest.raises(ValueError, match="600 s"):
        issue_token_for(settings, "m", ttl=timedelta(minutes=11))


def test_a_token_carries_the_deployments_issuer_audience_and_the_role_asked() -> None:
    settings = Settings(auth_jwt_issuer="idp.example", auth_jwt_audience="connector")
    token = issue_token_for(settings, "ops", Role.OPERATOR, timedelta(minutes=5))
    principal = decode_token(settings.auth_jwt_secret.get_secret_value(), token, settings.token_policy)
    assert (principal.merchant_id, principal.role, principal.is_operator) == ("ops", Role.OPERATOR, True)
