"""The console in headless Chromium against the real system (sandboxes, API, worker): a merchant signs in,
watches its orders come in from the Rakuten sandbox, reads an order's timeline, retries a failed order,
synchs its stock to the end of the progress bar and reads the activity chart; a merchant's token never shows
another merchant's data; an operator sees every connection and filters them by merchant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rakuten_connector.kit.auth import Role
from rakuten_connector.settings import Settings
from tests.conftest import auth_headers, use_secret
from tests.console import steps
from tests.console.conftest import Browser
from tests.e2e.world import MERCHANT, World, sale, wait_for, world

pytestmark = pytest.mark.usefixtures("sessions")

# Connection names are the merchant's text: the console must show them as text, never run them.
HOSTILE_NAME = 'Boutique <img src=x onerror="document.title=1"> & "Cie"'
OTHER_MERCHANT = "merchant-other"


def token_of(merchant_id: str, role: Role = Role.MERCHANT) -> str:
    return auth_headers(merchant_id, role)["Authorization"].removeprefix("Bearer ")


async def orders_in(w: World, state: str, count: int) -> list[Any]:
    async def enough() -> bool:
        return len(await w.orders(state=state)) >= count

    await wait_for(enough, seconds=60, what=f"{count} {state} order(s)")
    return await w.orders(state=state)


def see_the_connection_and_import(b: Browser) -> None:
    card = steps.element(b, "section.connection")
    title = card.find_element("css selector", "h2")
    assert title.text == HOSTILE_NAME
    assert not card.find_elements("css selector", "img"), "a name became markup"
    question = steps.click_and_confirm(b, "button.import-now")
    assert "Import the new sales" in question
    steps.notice(b, "Import queued")


def see_orders_shipped(b: Browser, count: int) -> None:
    steps.text_shows(b, "section.connection .legend", f"Shipped {count}", seconds=90)
    b.shot("connections")


def retry_the_failed_order(b: Browser, purchase_id: str) -> None:
    steps.click(b, "p.links a[href$='/orders']")
    steps.click(b, "a.tab[data-state='failed']")
    row = f"tr.order[data-purchase-id='{purchase_id}']"
    reason = steps.text_of(b, f"{row} td.reason")
    assert "Cubyn refused the parcel" in reason
    assert steps.css_count(b, f"{row} button.retry") == 1
    b.shot("orders-failed")
    steps.click(b, f"{row} a")
    steps.text_shows(b, "#order .facts", "Failed")
    steps.click_and_confirm(b, "#order button.retry")
    steps.notice(b, f"Retry of order {purchase_id} queued")


def find_the_order(b: Browser, purchase_id: str) -> None:
    steps.click(b, "#nav a[href$='/orders']")
    steps.element(b, "#purchase-search").send_keys(f" {purchase_id} ")  # sent trimmed
    steps.click(b, "#order-search button")
    steps.text_shows(b, "h1 .purchase-id", purchase_id)


def read_the_order(b: Browser, purchase_id: str) -> None:
    assert steps.text_of(b, "h1 .purchase-id") == purchase_id
    # The page follows the order: the retry imports it, Cubyn ships it, the tracking link appears.
    link = steps.element(b, "#order a.tracking-link")
    assert link.get_attribute("href").startswith("https://www.track.cubyn.com/")
    steps.text_shows(b, "#order .facts", "Shipped", seconds=90)
    timeline = steps.text_of(b, "#order ol.timeline")
    for kind in ("failed", "retry_requested", "imported"):
        assert kind in timeline, timeline
    items = steps.text_of(b, "#order table.items")
    assert "SKU-4" in items
    b.shot("order")


def synch_the_stock(b: Browser, downloads: Path) -> str:
    steps.click(b, "#nav a[href$='/stock']")
    steps.click_and_confirm(b, "#sync-start")
    steps.attribute_becomes(b, "#sync-progress", "data-status", "succeeded", seconds=90)
    steps.attribute_becomes(b, "#sync-progress", "aria-valuenow", "100")
    assert "ONLY-RAKUTEN" in steps.text_of(b, "#only-on-rakuten")
    suggestions = steps.text_of(b, "table.suggestions")
    assert "sku-5" in suggestions
    assert "SKU-5" in suggestions
    steps.element(b, "table.stock tr.stock-item")
    b.shot("stock")
    csv = steps.download(b, "#mismatch-csv", downloads)
    steps.element(b, "#sku-search").send_keys("  SKU-2 ")  # sent trimmed
    steps.click(b, "#sku-search + button")
    steps.wait(b, lambda d: steps.css_count(b, "table.stock tr.stock-item") == 1, "the SKU searched for only")
    assert steps.element(b, "table.stock tr.stock-item").get_attribute("data-sku") == "SKU-2"
    return csv


def read_the_activity(b: Browser) -> None:
    steps.click(b, "#nav a[href$='/activity']")
    steps.element(b, "svg.chart polyline.series-imported")
    steps.text_shows(b, "#activity-totals", "Imported 3")
    steps.text_shows(b, "#activity-totals", "Shipped 3")
    assert steps.css_count(b, "svg.chart rect.bar-events") >= 1
    b.shot("activity")


async def test_a_merchant_watches_orders_retries_a_failed_one_and_synchs_stock(
    settings: Settings, browser: Browser, tmp_path: Path
) -> None:
    # Stock files as often as Rakuten's hourly cap allows, their reports read at once: the sync's push
    # needs not wait for an earlier file's interval.
    quick = settings.model_copy(update={"stock_push_min_interval_seconds": 1, "stock_report_poll_seconds": 0.5})
    async with world(quick) as w:
        await w.connect(name=HOSTILE_NAME)
        adverts = [{"sku": f"SKU-{n}", "stock": 3} for n in range(1, 5)]
        adverts += [{"sku": "sku-5", "stock": 3}, {"sku": "ONLY-RAKUTEN", "stock": 1}]
        answer = await w.rakuten.put(f"/_sandbox/sellers/{w.login}/inventory", json={"adverts": adverts})
        assert answer.status_code == 200, answer.text

        await browser.run(steps.sign_in, f"{w.settings.public_base_url}/console", token_of(MERCHANT))
        await w.add_sales(sale("Suivi", ["SKU-1"]), sale("Normal", ["SKU-2", "SKU-3"]))
        await browser.run(see_the_connection_and_import)
        await browser.run(see_orders_shipped, 2)

        # Cubyn refuses every call for a while: the next sale's parcel fails for good.
        assert (await w.cubyn.put("/_sandbox/faults", json={"error_rate": 1.0, "error_status": 422})).is_success
        [failing] = await w.add_sales(sale("Suivi", ["SKU-4"]))
        assert (await w.api.post(f"/v1/connections/{w.connection_id}/imports", headers=w.headers)).is_success
        await orders_in(w, "failed", 1)
        assert (await w.cubyn.delete("/_sandbox/faults")).is_success

        await browser.run(retry_the_failed_order, failing["purchase_id"])
        await browser.run(find_the_order, failing["purchase_id"])
        await browser.run(read_the_order, failing["purchase_id"])
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        csv = await browser.run(synch_the_stock, downloads)
        lines = csv.splitlines()
        assert lines[0] == '"side","sku","suggested_cubyn_sku","rule"'
        assert '"only_on_rakuten","sku-5","SKU-5","case"' in lines
        assert '"only_on_rakuten","ONLY-RAKUTEN","",""' in lines
        await browser.run(read_the_activity)
        assert await browser.run(Browser.errors) == []


async def connect_another_merchant(w: World) -> tuple[str, str, dict[str, str]]:
    """A second merchant with its own Rakuten shop and Cubyn application; returns its connection id, the
    purchase id of its one order, and its headers."""
    login, token, key = "boutique-secrete", use_secret("rk-console-CANARY-other"), use_secret("cub-console-other")
    assert (await w.rakuten.post("/_sandbox/sellers", json={"login": login, "token": token})).is_success
    app = {"merchant_id": OTHER_MERCHANT, "key": key}
    assert (await w.cubyn.post("/_sandbox/applications", json=app)).is_success
    products = {"products": [{"sku": "SECRET-SKU", "available": 5}]}
    assert (await w.cubyn.put(f"/_sandbox/merchants/{OTHER_MERCHANT}/products", json=products)).is_success
    answer = await w.rakuten.post(
        f"/_sandbox/sellers/{login}/sales", json={"sales": [sale("Suivi", ["SECRET-SKU"])]}
    )
    purchase_id = answer.json()["sales"][0]["purchase_id"]
    headers = auth_headers(OTHER_MERCHANT)
    body = {"name": "Boutique Secrète", "seller_id": login, "token": token, "cubyn_api_key": key}
    created = await w.api.post("/v1/connections", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()["id"], purchase_id, headers


def nothing_of_the_other_merchant(b: Browser, base: str, other_id: str, purchase_id: str) -> None:
    steps.element(b, "section.connection")
    assert steps.css_count(b, "section.connection") == 1
    for page in ("orders", f"orders/{purchase_id}", "stock", "activity"):
        steps.go(b, f"{base}#/connections/{other_id}/{page}")
        steps.notice(b, "connection not found")
        steps.element(b, "#nothing")
        source = b.driver.page_source
        assert "Boutique Secrète" not in source
        assert "SECRET-SKU" not in source
        if page != f"orders/{purchase_id}":
            assert purchase_id not in source
    b.shot("other-merchant-refused")


def operator_sees_all_and_filters(b: Browser) -> None:
    steps.wait(b, lambda d: steps.css_count(b, "section.connection") == 2, "both connections")
    field = steps.element(b, "#merchant-filter")
    field.send_keys(OTHER_MERCHANT)
    steps.click(b, "form.filters button")
    steps.wait(b, lambda d: steps.css_count(b, "section.connection") == 1, "the merchant's connection only")
    assert steps.text_of(b, "section.connection h2") == "Boutique Secrète"
    b.shot("operator-filtered")


async def test_a_merchants_token_never_shows_another_merchants_data(settings: Settings, browser: Browser) -> None:
    async with world(settings) as w:
        await w.connect(name="Boutique A")
        other_id, purchase_id, other_headers = await connect_another_merchant(w)

        async def imported() -> bool:
            page = await w.api.get(f"/v1/connections/{other_id}/orders", headers=other_headers)
            return any(o["purchase_id"] == purchase_id for o in page.json()["items"])

        await wait_for(imported, seconds=60, what="the other merchant's order")
        base = f"{w.settings.public_base_url}/console"
        await browser.run(steps.sign_in, base, token_of(MERCHANT))
        await browser.run(nothing_of_the_other_merchant, base, other_id, purchase_id)
        await browser.run(steps.go, f"{base}#/connections")
        await browser.run(steps.sign_out)
        await browser.run(steps.sign_in, base, token_of("ops", Role.OPERATOR))
        await browser.run(operator_sees_all_and_filters)
