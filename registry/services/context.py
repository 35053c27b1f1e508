"""The backends a service function works with, opened once per process by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis

from registry.config import Settings
from registry.db.pool import Pool
from registry.services.audit import AuditTrail
from registry.services.configuration import ConfigurationCache
from registry.services.hashers import HasherCache
from registry.services.identity import IdentityService
from registry.storage.base import StorageDriver
from registry.token.keys import KeyRing


@dataclass
class Backends:
    settings: Settings
    db: Pool
    storage: StorageDriver
    redis: Redis
    keys: KeyRing
    config: ConfigurationCache
    identity: IdentityService
    audit: AuditTrail
    hashers: HasherCache = field(default_factory=HasherCache)
