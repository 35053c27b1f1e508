"""Berth's Prometheus instruments, shared by every process that records them.

Processes (uvicorn workers, Celery workers and their pool children, the scheduler) each
write their samples to files under one directory, ``PROMETHEUS_MULTIPROC_DIR``, which
``/metrics`` aggregates at scrape time (prometheus-client's multiprocess mode). ``berth serve``
points it at ``<data_dir>/prometheus`` and empties it when it starts; see
:mod:`registry.metrics.setup`. ``prometheus_client`` is imported only once that is done, because
it picks its storage when first imported.
"""
