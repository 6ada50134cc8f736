"""The Cubyn sandbox's webhook dispatcher stops when told, whatever it was doing at that instant."""

from __future__ import annotations

import asyncio

from rakuten_connector.sandbox.cubyn.webhooks import WebhookDispatcher


async def test_a_stop_that_comes_as_a_delivery_ends_is_not_lost() -> None:
    """A delivery that ends wakes the dispatcher; a stop in that same instant must still stop it (on
    Python 3.11, asyncio.wait_for returned normally there, and the dispatcher ran on: the demo never
    stopped)."""
    dispatcher = WebhookDispatcher()
    dispatcher.hold()
    dispatcher.enqueue("http://127.0.0.1:9/never", "whsec_" + "A" * 32, "parcel.updated", {})
    dispatcher._pending[0].due = asyncio.get_running_loop().time() + 600  # a retry later: a timed wait
    dispatcher.release()
    await dispatcher.start()
    try:
        await asyncio.sleep(0.05)  # waiting for that retry
        task = dispatcher._task
        assert task is not None
        dispatcher._wake.set()  # what a delivery ending does...
        task.cancel()  # ...as stop() cancels
        done, _ = await asyncio.wait({task}, timeout=10)
        assert done, "the dispatcher went on after being stopped"
    finally:
        await dispatcher.stop()
