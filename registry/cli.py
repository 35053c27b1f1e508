"""``berth serve | migrate | config check``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from pydantic import SecretStr, ValidationError

from registry.config import Settings, load_settings, masked
from registry.db.migrate import migrate
from registry.db.pool import open_pool
from registry.services.bootstrap import ADMIN, bootstrap

log = logging.getLogger("berth")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="berth", description="Berth container registry")
    parser.add_argument("--config", help="YAML settings file (also BERTH_CONFIG_FILE)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the registry (embedded services by default)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 5000)")
    serve.add_argument("--data-dir", type=Path, help="state directory (default ./berth-data)")
    serve.add_argument("--workers", type=int, help="uvicorn worker processes (default 1)")
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
    commands.add_parser("scheduler", help="start scheduled jobs (GC, retention, purges)")

    mig = commands.add_parser("migrate", help="apply database migrations and exit")
    mig.add_argument("--data-dir", type=Path)

    config = commands.add_parser("config", help="inspect settings")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    config_commands.add_parser("check", help="validate and print the effective settings")
    return parser


@contextlib.contextmanager
def external_services(settings: Settings) -> Iterator[Settings]:
    """Start embedded PostgreSQL/Redis for whatever is not configured; stop them on exit.

    The URLs are also exported to the environment so uvicorn worker processes, which build
    their own settings, reach the same services.
    """
    from registry.embedded import EmbeddedPostgres, EmbeddedRedis

    stoppers = []
    try:
        updates: dict[str, SecretStr] = {}
        if settings.database_url is None:
            postgres = EmbeddedPostgres(settings.data_dir)
            dsn = postgres.start()
            stoppers.append(postgres.stop)
            updates["database_url"] = SecretStr(dsn)
            os.environ["BERTH_DATABASE_URL"] = dsn
            log.info("started embedded PostgreSQL under %s", settings.data_dir)
        if settings.redis_url is None:
            redis = EmbeddedRedis(settings.data_dir)
            url = redis.start()
            stoppers.append(redis.stop)
            updates["redis_url"] = SecretStr(url)
            os.environ["BERTH_REDIS_URL"] = url
            log.info("started embedded Redis under %s", settings.data_dir)
        yield settings.model_copy(update=updates)
    finally:
        for stop in reversed(stoppers):
            try:
                stop()
            except Exception:
                log.exception("stopping an embedded service failed")


async def _prepare_database(settings: Settings, *, with_bootstrap: bool) -> None:
    assert settings.database_url is not None
    pool = await open_pool(settings.database_url.get_secret_value(), size=2)
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
    from registry.services.context import open_backends

    async with open_backends(settings, pool_size=2) as backends:
        await run_forever(backends)


def run_worker(settings: Settings, *, with_scheduler: bool) -> int:
    import threading

    from registry.jobs.celery_app import create_celery, worker_argv

    _require_services(settings)
    if with_scheduler:
        threading.Thread(
            target=lambda: asyncio.run(_scheduler(settings)), name="scheduler", daemon=True
        ).start()
    create_celery(settings).worker_main(worker_argv(settings))
    return 0


@contextlib.contextmanager
def job_worker_process(settings: Settings) -> Iterator[None]:
    """The embedded default's job worker (with the scheduler), stopped with the server."""
    import subprocess

    log_path = settings.data_dir / "worker.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "registry.cli", "worker", "--with-scheduler"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
    log.info("started a job worker (log: %s)", log_path)
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(settings: Settings, *, job_worker: bool = True) -> int:
    import uvicorn

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve()})
    _export(settings)
    with contextlib.ExitStack() as stack:
        ready = stack.enter_context(external_services(settings))
        asyncio.run(_prepare_database(ready, with_bootstrap=True))
        if job_worker:
            stack.enter_context(job_worker_process(ready))
        log.info("Berth listening on http://%s:%d", ready.host, ready.port)
        common = {
            "host": ready.host,
            "port": ready.port,
            "log_level": ready.log_level,
            "proxy_headers": True,
            "forwarded_allow_ips": ready.trusted_proxies,
            # Clients hold connections open between layers; keep them longer than the default.
            "timeout_keep_alive": 30,
        }
        # uvicorn handles SIGINT/SIGTERM itself and, once shut down, re-raises the signal to
        # the handler it found: make that one a no-op so the embedded services still get
        # stopped in order below instead of dying with a KeyboardInterrupt traceback.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _after_shutdown)
        if ready.workers == 1:
            from registry.app import create_app

            uvicorn.run(create_app(ready), **common)  # type: ignore[arg-type]
        else:
            uvicorn.run(
                "registry.app:app_from_environment",
                factory=True,
                workers=ready.workers,
                **common,  # type: ignore[arg-type]
            )
    return 0


def main(argv: list[str] | None = None) -> int:
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
    if args.command == "serve":
        return serve(settings, job_worker=not args.no_job_worker)
    if args.command == "worker":
        if args.concurrency:
            settings = settings.model_copy(update={"worker_concurrency": args.concurrency})
        return run_worker(settings, with_scheduler=args.with_scheduler)
    if args.command == "scheduler":
        _require_services(settings)
        asyncio.run(_scheduler(settings))
        return 0
    if args.command == "migrate":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with external_services(settings) as ready:
            asyncio.run(_prepare_database(ready, with_bootstrap=False))
        return 0
    if args.command == "config":
        print(json.dumps(masked(settings), indent=2, default=str))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
