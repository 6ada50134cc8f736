"""Run something once the session's transaction has committed, and never if it rolls back: what a
transaction did is counted only when it did it (a rolled-back import counts no order)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_KEY = "after_commit"


def after_commit(session: AsyncSession, action: Callable[[], object]) -> None:
    """`action` runs right after the session's current transaction commits (it must not fail or block)."""
    session.sync_session.info.setdefault(_KEY, []).append(action)


@event.listens_for(Session, "after_commit")
def _run(session: Session) -> None:
    for action in session.info.pop(_KEY, ()):
        action()


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_KEY, None)
