"""A delivery is signed by one of its connection's secrets (the current one, or the previous one during a
rotation's grace period), whichever signature of the header matches."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.crypto import new_webhook_secret
from rakuten_connector.kit.errors import ApiError
from rakuten_connector.webhooks.intake import _Sender
from rakuten_connector.webhooks.verification import verify_signature
from tests.conftest import use_secret
from tests.webhooks.test_router import PARCEL_EVENT, sign, signed_headers

BODY = json.dumps(PARCEL_EVENT).encode()
CURRENT, PREVIOUS, OTHER = (use_secret(new_webhook_secret()) for _ in range(3))
HOOKS = [Webhook(CURRENT), Webhook(PREVIOUS)]


def test_the_secret_that_signed_is_named_current_first() -> None:
    assert verify_signature(HOOKS, BODY, signed_headers(CURRENT, BODY)) == 0
    assert verify_signature(HOOKS, BODY, signed_headers(PREVIOUS, BODY)) == 1
    both = signed_headers(PREVIOUS, BODY)
    current = sign(CURRENT, both["webhook-id"], int(both["webhook-timestamp"]), BODY)
    both["webhook-signature"] += f" {current}"
    assert verify_signature(HOOKS, BODY, both) == 0


@pytest.mark.parametrize(
    ("hooks", "headers"),
    [
        (HOOKS, signed_headers(OTHER, BODY)),
        ([HOOKS[0]], signed_headers(PREVIOUS, BODY)),  # the previous secret after its grace
        ([], signed_headers(CURRENT, BODY)),
        (HOOKS, {**signed_headers(PREVIOUS, BODY), "webhook-signature": "v1,%%%"}),
    ],
    ids=["other-secret", "expired-previous", "no-secret", "malformed"],
)
def test_a_signature_by_no_secret_of_the_connection_is_401(hooks: list[Webhook], headers: dict[str, str]) -> None:
    with pytest.raises(ApiError) as refused:
        verify_signature(hooks, BODY, headers)
    assert (refused.value.status_code, refused.value.code) == (401, "invalid_signature")


def test_the_previous_secret_counts_until_the_end_of_its_grace_only() -> None:
    now = utcnow()
    sender = _Sender("c", True, "current-enc", "previous-enc", now + timedelta(seconds=1))
    assert sender.secrets(now) == ["current-enc", "previous-enc"]
    assert sender.secrets(now + timedelta(seconds=1)) == ["current-enc"]
    assert _Sender("c", True, "current-enc", None, None).secrets(now) == ["current-enc"]
