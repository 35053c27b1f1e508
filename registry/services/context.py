"""The backends a service function works with, opened once per process by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis

from registry.config import Settings
from registry.db.pool import Pool
from registry.services.hashers import HasherCache
from registry.storage.base import StorageDriver


@dataclass
class Backends:
    settings: Settings
    db: Pool
    storage: StorageDriver
    redis: Redis
    hashers: HasherCache = field(default_factory=HasherCache)
