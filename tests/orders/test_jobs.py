"""The order jobs' ids: the same work queued twice is one job; work the merchant asks for again gets its
own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rakuten_connector.orders.jobs import (
    CHECK_ORDER,
    IMPORT_CONNECTION,
    IMPORT_CONNECTIONS,
    check_order_job,
    import_batch_job,
    import_now_job,
    retry_order_job,
)

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_a_check_of_the_same_order_due_at_the_same_time_is_one_job() -> None:
    first, again = check_order_job("o-1", NOW), check_order_job("o-1", NOW)
    assert first == again
    assert (first.function, first.args) == (CHECK_ORDER, ("o-1",))
    assert check_order_job("o-1", NOW + timedelta(seconds=1)).id != first.id
    assert check_order_job("o-2", NOW).id != first.id


def test_an_overdue_check_gets_a_new_id_every_period_so_the_sweep_can_queue_it_again() -> None:
    period = timedelta(minutes=2)
    within = check_order_job("o-1", NOW, NOW + timedelta(minutes=1), period)
    later = check_order_job("o-1", NOW, NOW + timedelta(minutes=3), period)
    assert within.id == check_order_job("o-1", NOW).id
    assert later.id != within.id


def test_a_retry_and_an_import_asked_for_never_collapse_into_the_scheduled_jobs() -> None:
    retry = retry_order_job("o-1", NOW)
    assert (retry.function, retry.args) == (CHECK_ORDER, ("o-1",))
    assert retry.id != check_order_job("o-1", NOW).id
    now = import_now_job("c-1", NOW)
    batch = import_batch_job(["c-1", "c-2"], NOW)
    assert (now.function, now.args) == (IMPORT_CONNECTION, ("c-1",))
    assert (batch.function, batch.args) == (IMPORT_CONNECTIONS, (["c-1", "c-2"],))
    assert now.id != batch.id
    assert import_now_job("c-1", NOW + timedelta(seconds=5)).id != now.id  # asked again: queued again
