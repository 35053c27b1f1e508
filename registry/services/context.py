"""What a service function works with: the backends of one process.

They are opened by the composition root (``registry.runtime.open_backends``, called by the
app's lifespan and by job workers); services see them only through this record and the small
protocols below, never the modules that build them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis

from registry.config import Settings
from registry.db.pool import Pool
from registry.services.audit import AuditTrail
from registry.services.background import BackgroundTasks
from registry.services.configuration import ConfigurationCache
from registry.services.hashers import HasherCache
from registry.services.identity import IdentityService
from registry.services.proxy_fills import BlobFills
from registry.services.read_cache import ReadCache
from registry.services.secrets import SecretBox
from registry.services.webhook_subscriptions import Subscriptions
from registry.storage.base import StorageDriver
from registry.token.jwt import VerifiedTokens
from registry.token.keys import KeyRing


class JobQueue(Protocol):
    """Hands recorded jobs to the workers (the job service implements it)."""

    async def enqueue(self, job_id: int, countdown: float = 0) -> None:
        """Send the job; raise ``JobServiceUnavailable`` when the broker cannot take it."""

    def close(self) -> None:
        """Release the connection to the broker."""


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
    jobs: JobQueue
    # Seals the secrets kept in the database (LDAP bind password, webhook auth headers).
    secrets: SecretBox
    hashers: HasherCache = field(default_factory=HasherCache)
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens)
    background: BackgroundTasks = field(default_factory=BackgroundTasks)
    webhook_subscriptions: Subscriptions = field(default_factory=Subscriptions)
    read_cache: ReadCache = field(default_factory=ReadCache)
    blob_fills: BlobFills = field(default_factory=BlobFills)
