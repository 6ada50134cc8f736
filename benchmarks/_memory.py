"""Peak memory of this process while a block runs (RSS sampled in a thread)."""

from __future__ import annotations

import gc
import os
import threading

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


class PeakRss:
    """`with PeakRss() as rss:` ... then `rss.peak`, `rss.baseline`, `rss.growth_mb`."""

    def __init__(self, every_seconds: float = 0.005) -> None:
        self.every_seconds = every_seconds

    def __enter__(self) -> PeakRss:
        gc.collect()
        self.baseline = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.every_seconds):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / 1e6
