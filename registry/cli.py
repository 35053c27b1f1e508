"""``berth serve | migrate | config check``."""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr, ValidationError

from registry.config import Settings, load_settings, masked
from registry.embedded.supervisor import BerthChild, Supervisor

if TYPE_CHECKING:
    pass

# What a command needs is imported by the command: each process Berth starts (the scheduler,
# the scanner, the job worker) then holds only its own part of Berth in memory.

log = logging.getLogger("berth")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="berth", description="Berth container registry")
    parser.add_argument("--config", help="YAML settings file (also BERTH_CONFIG_FILE)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the registry (embedded services by default)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 5000)")
    serve.add_argument("--data-dir", type=Path, help="state directory (default ./berth-data)")
    serve.add_argument(
        "--workers", type=int, help="HTTP processes (default: one per available core)"
    )
    serve.add_argument(
        "--no-job-worker",
        action="store_true",
        help="do not start a job worker and scheduler alongside (run `berth worker` yourself)",
    )

    worker = commands.add_parser("worker", help="run a Celery job worker")
    worker.add_argument(
        "--with-scheduler", action="store_true", help="also start scheduled jobs from this process"
    )
    worker.add_argument("--concurrency", type=int, help="jobs run at once (default 2)")
    celery_worker = commands.add_parser(
        "celery-worker", help="the Celery worker process alone (`berth worker` supervises it)"
    )
    celery_worker.add_argument("--concurrency", type=int, help="jobs run at once (default 2)")
    celery_worker.add_argument(
        "--with-scheduler", action="store_true", help="also run the scheduler in this process"
    )
    http_process = commands.add_parser(
        "http-process", help="one more HTTP process of `berth serve` (started by serve)"
    )
    http_process.add_argument(
        "--fd", type=int, action="append", required=True, help="a listening socket handed down"
    )
    commands.add_parser(
        "scheduler", help="start scheduled jobs and re-dispatch jobs no worker received"
    )

    mig = commands.add_parser("migrate", help="apply database migrations and exit")
    mig.add_argument("--data-dir", type=Path)

    from registry.scanners.adapter import cli as scanner_cli

    scanner_cli.add_parser(commands)

    config = commands.add_parser("config", help="inspect settings")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    config_commands.add_parser("check", help="validate and print the effective settings")
    return parser


def _announce(message: str) -> None:
    """Events of the processes Berth supervises, on its own output (not only in their logs)."""
    print(f"berth: {message}", file=sys.stderr, flush=True)


def _supervisor(settings: Settings) -> Supervisor:
    return Supervisor(
        _announce,
        restart_limit=settings.supervisor_restart_limit,
        window_seconds=settings.supervisor_window_seconds,
    )


def start_embedded_services(settings: Settings, supervisor: Supervisor) -> Settings:
    """Start embedded PostgreSQL/Redis for whatever is not configured, under ``supervisor``.

    The URLs are also exported to the environment so the processes Berth starts (uvicorn
    workers, the job worker, the scheduler), which build their own settings, reach the same
    services.
    """
    from registry.embedded import EmbeddedPostgres, EmbeddedRedis

    updates: dict[str, SecretStr] = {}
    if settings.database_url is None:
        postgres = EmbeddedPostgres(settings.data_dir)
        supervisor.adopt(postgres)
        dsn = postgres.start()
        updates["database_url"] = SecretStr(dsn)
        os.environ["BERTH_DATABASE_URL"] = dsn
        log.info("started embedded PostgreSQL under %s", settings.data_dir)
    if settings.redis_url is None:
        redis = EmbeddedRedis(settings.data_dir)
        supervisor.adopt(redis)
        url = redis.start()
        updates["redis_url"] = SecretStr(url)
        os.environ["BERTH_REDIS_URL"] = url
        log.info("started embedded Redis under %s", settings.data_dir)
    return settings.model_copy(update=updates)


async def _prepare_database(settings: Settings, *, with_bootstrap: bool) -> None:
    from registry.db.migrate import migrate
    from registry.db.pool import open_pool
    from registry.services.bootstrap import ADMIN, bootstrap

    assert settings.database_url is not None
    # Migrations bound themselves (lock and statement timeouts in the database).
    pool = await open_pool(settings.database_url.get_secret_value(), size=2, command_timeout=None)
    try:
        async with pool.acquire() as conn:
            for name in await migrate(conn):
                log.info("migration %s applied", name)
        if with_bootstrap:
            password = settings.admin_password
            generated = await bootstrap(
                pool, password.get_secret_value() if password else None, settings.configuration
            )
            if generated:
                # Printed once, on the terminal only: it is never written to a log file.
                print(
                    f"\n  Berth created the '{ADMIN}' account with password: {generated}\n"
                    "  (set BERTH_ADMIN_PASSWORD to choose it yourself)\n",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        await pool.close()


def _export(settings: Settings) -> None:
    """Command-line flags reach uvicorn worker processes through the environment."""
    os.environ["BERTH_DATA_DIR"] = str(settings.data_dir.resolve())
    os.environ["BERTH_HOST"] = settings.host
    os.environ["BERTH_PORT"] = str(settings.port)


def _after_shutdown(signum: int, frame: object) -> None:
    log.info("shutting down (signal %d)", signum)


def _require_services(settings: Settings) -> None:
    if settings.database_url is None or settings.redis_url is None:
        raise SystemExit(
            "berth: set BERTH_DATABASE_URL and BERTH_REDIS_URL (berth serve starts its own "
            "worker when it runs the embedded services)"
        )


async def _scheduler(settings: Settings) -> None:
    from registry.jobs.scheduler import run_forever
    from registry.runtime import open_backends

    async with open_backends(settings, pool_size=2, for_jobs=True) as backends:
        await run_forever(backends)


def run_celery_worker(settings: Settings, *, with_scheduler: bool) -> int:
    """The Celery worker itself, in the foreground (``berth worker`` supervises it), with the
    scheduler on a thread beside it when asked."""
    from registry.jobs.celery_app import create_celery, worker_argv
    from registry.jobs.scheduler_thread import SchedulerThread
    from registry.runtime import open_backends

    _require_services(settings)
    scheduler = SchedulerThread(lambda: _scheduler(settings)).start() if with_scheduler else None
    try:
        create_celery(settings, open_backends).worker_main(worker_argv(settings))
    finally:
        if scheduler is not None:
            scheduler.stop()
    return 0


def run_worker(settings: Settings, *, with_scheduler: bool) -> int:
    """A supervising process with the Celery worker (and the scheduler in it) as its child."""
    _require_services(settings)
    supervisor = _supervisor(settings)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: done.set())
    try:
        worker_args = ["celery-worker", "--concurrency", str(settings.worker_concurrency)]
        if with_scheduler:
            worker_args.append("--with-scheduler")
        supervisor.adopt(
            BerthChild("job worker", worker_args, stop_timeout=settings.worker_stop_seconds).start()
        )
        supervisor.start(on_give_up=lambda name: done.set())
        done.wait()
    finally:
        supervisor.stop()
    return 1 if supervisor.gave_up else 0


def serve(settings: Settings, *, job_worker: bool = True) -> int:
    """``berth serve``: embedded services and job processes under one supervisor, then the
    HTTP server. Exits non-zero when a supervised process keeps dying."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve()})
    _export(settings)
    supervisor = _supervisor(settings)
    try:
        ready = start_embedded_services(settings, supervisor)
        asyncio.run(_prepare_database(ready, with_bootstrap=True))
        if job_worker:
            supervisor.adopt(
                BerthChild(
                    "job worker",
                    ["celery-worker", "--with-scheduler"],
                    log_path=ready.data_dir / "worker.log",
                    stop_timeout=ready.worker_stop_seconds,
                ).start()
            )
            _announce(f"started a job worker with the scheduler (log in {ready.data_dir})")
            if ready.scanner_embedded:
                _start_scanner(ready, supervisor)
        # uvicorn handles SIGINT/SIGTERM itself and, once shut down, re-raises the signal to
        # the handler it found: make that one a no-op so the supervised processes still get
        # stopped in order below instead of dying with a KeyboardInterrupt traceback.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _after_shutdown)
        from registry.http_serving import serve_http

        serve_http(ready, supervisor, _announce)
    finally:
        supervisor.stop()
    return 1 if supervisor.gave_up else 0


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_scanner(settings: Settings, supervisor: Supervisor) -> None:
    """The built-in scanner adapter as a supervised child on 127.0.0.1, registered as the
    default scanner (its address refreshed at every start)."""
    from registry.scanners.adapter.cli import db_file, ensure_api_key

    port = settings.scanner_port or _free_loopback_port()
    database = settings.scanner_db_path or db_file(settings.data_dir)
    # Only Berth may use it: other local users could otherwise rewrite its database.
    key_file = ensure_api_key(settings.data_dir / "scanner" / "api.key")
    args = [
        "scanner",
        "--db",
        str(database),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--api-key-file",
        str(key_file),
        "--engine",
        settings.scanner_engine,
    ]
    supervisor.adopt(
        BerthChild("scanner", args, log_path=settings.data_dir / "scanner.log").start()
    )
    asyncio.run(
        _register_scanner(settings, f"http://127.0.0.1:{port}", key_file.read_text().strip())
    )
    _announce(
        f"started the scanner on 127.0.0.1:{port} "
        f"(OSV database {database}, {settings.scanner_engine} engine)"
    )


async def _register_scanner(settings: Settings, url: str, api_key: str) -> None:
    from registry.db.pool import open_pool
    from registry.services.scanner import register_embedded
    from registry.services.secrets import load_secret_box

    assert settings.database_url is not None
    pool = await open_pool(settings.database_url.get_secret_value(), size=1)
    try:
        await register_embedded(pool, url, load_secret_box(settings), api_key)
    finally:
        await pool.close()


def _return_large_buffers() -> None:
    """Blobs stream in 1 MiB chunks. glibc serves buffers that large with their own mappings
    at first, but raises that threshold as they are freed, after which they come from the heap,
    whose freed pages it keeps: a process's RSS then climbs with throughput. A fixed threshold
    keeps them mapped (and returned on free); two arenas bound what threads hold apart."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: its allocator has its own policy
        return
    m_mmap_threshold, m_arena_max = -3, -8  # from glibc's malloc.h
    libc.mallopt(m_mmap_threshold, 256 * 1024)
    libc.mallopt(m_arena_max, 2)


def main(argv: list[str] | None = None) -> int:
    _return_large_buffers()
    args = _parser().parse_args(argv)
    if args.config:
        os.environ["BERTH_CONFIG_FILE"] = args.config
    try:
        settings = load_settings(
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            data_dir=getattr(args, "data_dir", None),
            workers=getattr(args, "workers", None),
        )
    except ValidationError as exc:
        print(f"berth: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if args.command in ("serve", "http-process", "worker", "celery-worker", "scheduler"):
        from registry.metrics import setup as metrics_setup

        # Before any instrument exists; serve starts a fresh set (and its children share it).
        metrics_setup.configure(settings.data_dir.resolve(), clean=args.command == "serve")
    if args.command == "serve":
        return serve(settings, job_worker=not args.no_job_worker)
    if args.command == "http-process":
        from registry.http_serving import run_http_process

        return run_http_process(args.fd)
    if args.command in ("worker", "celery-worker"):
        if args.concurrency:
            settings = settings.model_copy(update={"worker_concurrency": args.concurrency})
        if args.command == "celery-worker":
            return run_celery_worker(settings, with_scheduler=args.with_scheduler)
        return run_worker(settings, with_scheduler=args.with_scheduler)
    if args.command == "scheduler":
        _require_services(settings)
        asyncio.run(_scheduler(settings))
        return 0
    if args.command == "migrate":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        supervisor = _supervisor(settings)
        try:
            ready = start_embedded_services(settings, supervisor)
            asyncio.run(_prepare_database(ready, with_bootstrap=False))
        finally:
            supervisor.stop()
        return 0
    if args.command == "config":
        print(json.dumps(masked(settings), indent=2, default=str))
        return 0
    if args.command == "scanner":
        from registry.scanners.adapter import cli as scanner_cli

        return scanner_cli.run(args, settings.data_dir)
    return 2


if __name__ == "__main__":
    sys.exit(main())
