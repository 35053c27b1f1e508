"""The text ``/metrics`` answers: every process's samples plus gauges read at scrape time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from registry.metrics.setup import directory


@dataclass
class Gauge:
    """A gauge family measured just now (read from the database, not kept by a process)."""

    name: str
    documentation: str
    labels: tuple[str, ...] = ()
    samples: list[tuple[tuple[str, ...], float]] = field(default_factory=list)

    def add(self, value: float, *label_values: str) -> None:
        self.samples.append((label_values, value))


class _SnapshotCollector:
    def __init__(self, gauges: Iterable[Gauge]) -> None:
        self._gauges = list(gauges)

    def collect(self) -> Iterator[object]:
        from prometheus_client.core import GaugeMetricFamily

        for gauge in self._gauges:
            family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=gauge.labels)
            for values, value in gauge.samples:
                family.add_metric(list(values), value)
            yield family


class _ProcessCollector:
    """This process's own instruments, when no sample directory is shared."""

    def collect(self) -> Iterator[object]:
        from prometheus_client import REGISTRY

        yield from REGISTRY.collect()


def render(gauges: Iterable[Gauge]) -> tuple[bytes, str]:
    """(body, content type) in Prometheus' text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    where = directory()
    if where is not None:
        MultiProcessCollector(registry, path=str(where))  # type: ignore[no-untyped-call]
    else:
        registry.register(_ProcessCollector())  # type: ignore[arg-type]
    registry.register(_SnapshotCollector(gauges))  # type: ignore[arg-type]
    return generate_latest(registry), CONTENT_TYPE_LATEST
