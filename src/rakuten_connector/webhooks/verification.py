"""What makes a Cubyn delivery acceptable: a Standard Webhooks signature by one of the connection's secrets,
and a body holding the fields of its type."""

from __future__ import annotations

import binascii
from collections.abc import Mapping, Sequence
from enum import StrEnum

from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from rakuten_connector.kit.errors import ApiError, parse_json_body
from rakuten_connector.webhooks.schemas import KNOWN_EVENTS, EventEnvelope

SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class SignedWith(StrEnum):
    """Which of a connection's secrets verified an event (logged: once Cubyn signs with the new secret only,
    the rotation is complete)."""

    CURRENT = "current"
    PREVIOUS = "previous"


def _invalid_signature(message: str) -> ApiError:
    return ApiError(401, "invalid_signature", message)


def verify_signature(hooks: Sequence[Webhook], body: bytes, headers: Mapping[str, str]) -> int:
    """Standard Webhooks: HMAC-SHA256, several signatures allowed, 5-minute tolerance, constant-time. Any of
    `hooks` (a connection's secrets) may have signed it; returns the index of the first that did."""
    wanted = {name: headers[name] for name in SIGNATURE_HEADERS if name in headers}
    refusal = "no secret"
    for index, hook in enumerate(hooks):
        try:
            hook.verify(body, wanted, json_parse=False)
            return index
        except WebhookVerificationError as exc:
            refusal = str(exc)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            # Malformed signature header (no comma, bad base64) or a body that cannot have been signed as text.
            raise _invalid_signature("Signature refused: malformed signature or body.") from None
    raise _invalid_signature(f"Signature refused: {refusal}.")


def validate_event(body: bytes) -> str:
    """The event's type, if the body holds the fields of its type (an unknown type needs only `type`)."""
    document = parse_json_body(body)
    try:
        envelope = EventEnvelope.model_validate(document)
        model = KNOWN_EVENTS.get(envelope.type)
        if model is not None:
            model.model_validate(document)
    except ValidationError as exc:
        details = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors()]
        message = "The event lacks the fields of its type, or holds values that cannot be applied."
        raise ApiError(400, "invalid_event", message, details) from None
    return envelope.type
