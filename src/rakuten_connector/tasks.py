"""What each domain's `tasks.py` declares to the worker: its jobs (by name, the work each runs) and its
ticks (periodic work that rebuilds jobs from the database). `worker.py` builds arq's function and cron
lists from these declarations; each domain's `jobs.py` builds the jobs that call them, by the same names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rakuten_connector.runtime import Runtime

# The work of a job: what it does with the runtime and its one argument.
JobWork = Callable[[Runtime, Any], Awaitable[object]]
Jobs = Mapping[str, JobWork]


@dataclass(frozen=True)
class Tick:
    name: str
    work: Callable[[Runtime], Awaitable[int]]  # returns how many jobs it queued
    seconds: frozenset[int]  # the seconds of each minute it runs at
    timeout: int = 60
