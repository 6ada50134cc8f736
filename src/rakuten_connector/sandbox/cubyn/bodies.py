"""Bodies of the Cubyn sandbox's control API (documented in `app.py`): pydantic models refusing unknown
fields, as every control body of both simulators. Each field has one name: an application is created with
`webhook_url` and `webhook_secret`, its webhook target is changed with `url` and `secret`."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, StrictInt, field_validator, model_validator
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from rakuten_connector.sandbox import faults
from rakuten_connector.sandbox.bodies import ControlBody
from rakuten_connector.sandbox.faults import Count, Rate

Delay = Annotated[float, Field(ge=0)] | Literal["manual"] | None


class Faults(faults.Faults):
    """Faults of the contract calls (never of the control API) and of webhook deliveries."""

    error_status: int = Field(default=503, ge=400, le=599)  # the status of `error_rate` and `errors_next`
    rate_limit_rate: Rate = 0.0  # share of contract calls answered 429
    retry_after: Count = 1
    errors_next: Count = 0  # the next N contract calls fail with `error_status`
    rate_limits_next: Count = 0  # the next N contract calls answer 429
    malformed_next: Count = 0  # the next N contract calls answer 200 with a body that is not JSON
    duplicate_deliveries: bool = False
    reorder_deliveries: bool = False


def _webhook_secret(secret: str | None) -> str | None:
    if secret is not None:
        try:
            Webhook(secret)
        except (ValueError, RuntimeError, EmptyWebhookSecretError):
            raise ValueError("secret must be a Standard Webhooks secret (whsec_<base64>)") from None
    return secret


class WebhookIn(ControlBody):
    url: str = Field(min_length=1)
    secret: str

    _secret = field_validator("secret")(_webhook_secret)


class ApplicationIn(ControlBody):
    merchant_id: str = Field(min_length=1)
    name: str | None = None  # default "Rakuten France"
    key: str | None = Field(default=None, min_length=1)  # default a new random key
    webhook_url: str | None = None
    webhook_secret: str | None = None

    _secret = field_validator("webhook_secret")(_webhook_secret)

    @model_validator(mode="after")
    def _url_and_secret(self) -> Self:
        if bool(self.webhook_url) != bool(self.webhook_secret):
            raise ValueError("webhook_url and webhook_secret come together")
        return self


class ProductIn(ControlBody):
    sku: str = Field(min_length=1)
    available: StrictInt
    name: str | None = None


class ProductsIn(ControlBody):
    products: list[ProductIn]


class MovementIn(ControlBody):
    sku: str = Field(min_length=1)
    delta: StrictInt
    movement: Literal["INBOUND", "RETURN", "FULFILMENT", "ADJUSTMENT"] = "ADJUSTMENT"


class LifecycleIn(ControlBody):
    """Seconds before each step happens on its own; null or "manual": only when forced."""

    validate_: Delay = Field(default=None, alias="validate")
    pick: Delay = None
    pack: Delay = None
    ship: Delay = None
    in_transit: Delay = None
    deliver: Delay = None

    def changes(self) -> dict[str, float | None]:
        """The steps the body names, with their delay ("manual" is None)."""
        named = self.model_dump(by_alias=True, exclude_unset=True).items()
        return {step: None if delay == "manual" else delay for step, delay in named}


class ValidationIn(ControlBody):
    check: Literal["address", "stock"]
    status: Literal["PENDING", "PASSED", "FAILED"]
    error: str | None = None


class ReleaseIn(ControlBody):
    order: Literal["fifo", "reverse", "shuffle"] = "fifo"
