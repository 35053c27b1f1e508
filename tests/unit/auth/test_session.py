"""Browser sessions: what is refused before Redis is ever asked.

The Redis client here points at a socket that does not exist, so any command it sent would
fail with a connection error; the checks below must answer without sending one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from registry.auth import session
from registry.auth.principal import ANONYMOUS, Principal, PrincipalKind


class NoOne:
    async def principal_by_name(self, name: str) -> Principal | None:
        raise AssertionError(f"asked for {name!r}")


@pytest.fixture
async def unreachable(tmp_path: Path) -> AsyncIterator[Redis]:
    client = Redis(unix_socket_path=str(tmp_path / "no-redis.sock"), retry=Retry(NoBackoff(), 0))
    yield client
    await client.aclose()


@pytest.mark.parametrize(
    "principal", [ANONYMOUS, Principal(username=None, kind=PrincipalKind.USER, user_id=1)]
)
async def test_no_session_without_a_named_principal(
    unreachable: Redis, principal: Principal
) -> None:
    with pytest.raises(ValueError, match="anonymous caller has no session"):
        await session.create(unreachable, principal)


@pytest.mark.parametrize("cookie", [None, "", "x" * 129])
async def test_a_cookie_that_cannot_be_a_session_id_is_no_session(
    unreachable: Redis, cookie: str | None
) -> None:
    assert await session.load(unreachable, NoOne(), cookie) is None
    assert await session.csrf_token(unreachable, cookie) is None
    await session.destroy(unreachable, cookie)


async def test_a_plausible_cookie_is_looked_up(unreachable: Redis) -> None:
    # The contrast to the test above: an id of the right shape does reach Redis.
    with pytest.raises(RedisConnectionError):
        await session.load(unreachable, NoOne(), "x" * 128)
