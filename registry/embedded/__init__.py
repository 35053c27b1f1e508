"""Private PostgreSQL and Redis behind Berth's zero-configuration default, and the supervisor
that keeps them, the job worker and the scheduler running.

``berth serve`` without ``BERTH_DATABASE_URL`` / ``BERTH_REDIS_URL`` runs these services under
the data directory and stops them on exit. Layout of the ``root`` the services are given::

    postgres/            PGDATA
    postgres.log         initdb, pg_ctl, psql and server output
    postgres.password    password of the ``berth`` superuser (0600)
    postgres.port        port of the last run; reused while it is free
    postgres.lock        flock held by the process that runs the server
    redis/               Redis data (append-only file)
    redis.conf           generated on every start; holds the password, so 0600
    redis.log, redis.password, redis.port, redis.pid, redis.lock
    worker.log           the job worker's output (the scheduler runs in its process)

Both services listen on 127.0.0.1 only and require a random password: a loopback port is
reachable by every local user and every container sharing the host network, and the database
holds credentials and tokens. Every service runs as a direct child that the kernel signals
when its parent dies (``setpriv --pdeathsig``), so none outlives a ``berth serve`` killed by
SIGKILL.
"""

from registry.embedded.host import EmbeddedServiceError, find_free_port
from registry.embedded.postgres_server import EmbeddedPostgres
from registry.embedded.redis_server import EmbeddedRedis

__all__ = ["EmbeddedPostgres", "EmbeddedRedis", "EmbeddedServiceError", "find_free_port"]
