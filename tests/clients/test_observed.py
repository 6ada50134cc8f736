"""`clients/observed.py`: each call to Rakuten and Cubyn timed by action and outcome, failures counted by
kind, item actions by what came of them."""

from __future__ import annotations

import httpx
import pytest
import respx
from prometheus_client import REGISTRY
from pydantic import SecretStr

from rakuten_connector.clients.cubyn import (
    CubynAuthError,
    CubynClient,
    CubynError,
    CubynRateLimited,
    CubynTransientError,
)
from rakuten_connector.clients.observed import error_kind
from rakuten_connector.clients.rakuten import (
    RakutenCredentialsError,
    RakutenError,
    RakutenInvalidResponse,
    RakutenItemStateError,
    RakutenPermanentError,
    RakutenQuotaExceeded,
    RakutenTransientError,
)
from rakuten_connector.kit.clock import utcnow
from tests.clients.test_rakuten_client import BASE, Fixture, client, xml

CUBYN = "https://cubyn.test/v2"


def _value(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(f"rakuten_connector_{name}", labels) or 0.0


def _calls(service: str, action: str, outcome: str) -> float:
    labels = {"service": service, "action": action, "outcome": outcome}
    return _value("upstream_request_duration_seconds_count", labels)


def _errors(service: str, action: str, kind: str) -> float:
    return _value("upstream_errors_total", {"service": service, "action": action, "kind": kind})


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (RakutenQuotaExceeded("q", utcnow()), "quota"),
        (CubynRateLimited("r", None), "quota"),
        (RakutenCredentialsError("c"), "credentials"),
        (CubynAuthError("c"), "credentials"),
        (RakutenInvalidResponse("garbled"), "invalid_answer"),
        (RakutenTransientError("down"), "transient"),
        (CubynTransientError("down"), "transient"),
        (RakutenPermanentError("X", "no"), "refused"),
        (ValueError("a bug"), "error"),
    ],
)
def test_error_kinds(error: Exception, kind: str) -> None:
    assert error_kind(error) == kind


@pytest.mark.parametrize(
    ("answer", "status", "kind"),
    [
        ("error_credentials.xml", 200, "credentials"),
        ("error_quota.xml", 200, "quota"),
        ("error_server.xml", 500, "transient"),
        ("error_rights.xml", 200, "refused"),
    ],
)
async def test_rakuten_failures_are_timed_and_counted_by_kind(
    rakuten_fixture: Fixture, answer: str, status: int, kind: str
) -> None:
    before = (_calls("rakuten", "getnewsales", kind), _errors("rakuten", "getnewsales", kind))
    with respx.mock() as mock:
        mock.get(f"{BASE}/sales_ws").mock(return_value=xml(rakuten_fixture(answer), status))
        with pytest.raises(RakutenError):
            await client().check_credentials()
    after = (_calls("rakuten", "getnewsales", kind), _errors("rakuten", "getnewsales", kind))
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)


async def test_a_rakuten_success_is_timed_as_ok(rakuten_fixture: Fixture) -> None:
    before = _calls("rakuten", "getnewsales", "ok")
    with respx.mock() as mock:
        mock.get(f"{BASE}/sales_ws").mock(return_value=xml(rakuten_fixture("getnewsales_single_utf8.xml")))
        await client().get_new_sales()
    assert _calls("rakuten", "getnewsales", "ok") - before == 1


async def test_item_actions_are_counted_by_outcome(rakuten_fixture: Fixture) -> None:
    labels = {"action": "accept", "outcome": "done"}
    before = _value("rakuten_actions_total", labels)
    with respx.mock() as mock:
        mock.get(f"{BASE}/sales_ws").mock(return_value=xml(rakuten_fixture("acceptsale_ok.xml")))
        await client().accept_item("42")
    assert _value("rakuten_actions_total", labels) - before == 1


async def test_refused_item_actions_are_counted_as_item_state_or_already_done(rakuten_fixture: Fixture) -> None:
    refused = {"action": "refuse", "outcome": "item_state"}
    already = {"action": "accept", "outcome": "already_done"}
    before = (_value("rakuten_actions_total", refused), _value("rakuten_actions_total", already))
    with respx.mock() as mock:
        for action in ("acceptsale", "refusesale"):
            mock.get(f"{BASE}/sales_ws", params={"action": action}).mock(
                return_value=xml(rakuten_fixture("error_parameter.xml"))
            )
        info = xml(rakuten_fixture("getiteminfos.xml"))  # the item is ACCEPTED
        mock.get(f"{BASE}/sales_ws", params={"action": "getiteminfos"}).mock(return_value=info)
        await client().accept_item("260306083")
        with pytest.raises(RakutenItemStateError):
            await client().refuse_item("260306083")
    after = (_value("rakuten_actions_total", refused), _value("rakuten_actions_total", already))
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (httpx.Response(401, json={"message": "no"}), "credentials"),
        (httpx.Response(429, json={}, headers={"Retry-After": "3"}), "quota"),
        (httpx.Response(503, json={}), "transient"),
        (httpx.Response(200, content=b"not json"), "invalid_answer"),
    ],
)
async def test_cubyn_calls_are_timed_and_failures_counted(response: httpx.Response, kind: str) -> None:
    before = (_calls("cubyn", "get_parcel", kind), _errors("cubyn", "get_parcel", kind))
    async with httpx.AsyncClient() as http:
        cubyn = CubynClient(CUBYN, SecretStr("key"), http=http, timeout=2.0)
        with respx.mock() as mock:
            mock.get(f"{CUBYN}/parcels/7").mock(return_value=response)
            with pytest.raises(CubynError) as caught:
                await cubyn.get_parcel("7")
    assert error_kind(caught.value) == kind
    after = (_calls("cubyn", "get_parcel", kind), _errors("cubyn", "get_parcel", kind))
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
