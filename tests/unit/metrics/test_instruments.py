from __future__ import annotations

import threading
import time

import pytest

from registry.metrics import instruments


def test_threads_using_the_instruments_first_at_once_make_them_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The job worker's threads finish jobs at the same moment; a second set of instruments
    would be refused by prometheus_client and fail a job that had succeeded."""
    made: list[object] = []
    real = instruments._instruments() if instruments._made else instruments._make()

    def slow_make() -> instruments._Instruments:
        made.append(object())
        time.sleep(0.05)  # long enough for every thread to arrive while it is being made
        return real

    monkeypatch.setattr(instruments, "_make", slow_make)
    monkeypatch.setattr(instruments, "_made", [])
    start = threading.Barrier(8)
    seen: list[instruments._Instruments] = []

    def first_use() -> None:
        start.wait()
        seen.append(instruments._instruments())

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1
    assert seen == [real] * 8
