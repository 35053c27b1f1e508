"""Webhook policies and deliveries.

An event becomes one WEBHOOK job per target of every enabled policy of its project that
subscribes to it (:func:`notify`); a worker POSTs the body the job carries (:func:`deliver`)
and, while the endpoint fails, retries with exponential backoff. The jobs are Harbor's
"executions" of the policy; their logs show every attempt.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from registry.db import webhooks
from registry.events import (
    DEFAULT_FORMAT,
    EVENT_TYPES,
    HTTP,
    JSON,
    NOTIFY_TYPES,
    PAYLOAD_FORMATS,
    Event,
    body_for,
)
from registry.services import jobs
from registry.services.context import Backends
from registry.services.errors import RetryLater, WebhookPolicyInvalid
from registry.services.secret_storage import WEBHOOK_AUTH_HEADER, seal_target
from registry.services.secrets import SecretBox

log = logging.getLogger(__name__)

KIND = webhooks.KIND
RETRIES_DEFAULT = 3
RETRY_BASE_SECONDS_DEFAULT = 2.0
RETRY_DELAY_CAP_SECONDS = 300.0
TIMEOUT_SECONDS_DEFAULT = 10.0

_MAX_NAME = 256
_MAX_DESCRIPTION = 4096
_MAX_ADDRESS = 2048
_MAX_AUTH_HEADER = 8192
_MAX_TARGETS = 16
_LOGGED_RESPONSE_CHARS = 512
_HEADER_CHARACTERS = frozenset(chr(c) for c in range(0x20, 0x7F)) | {"\t"}


# --- policies --------------------------------------------------------------------------------


def _storable(value: str, name: str) -> str:
    """PostgreSQL stores neither NUL characters nor lone surrogates (which JSON can carry)."""
    if "\0" in value:
        raise WebhookPolicyInvalid(f"{name} must not contain NUL characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise WebhookPolicyInvalid(f"{name} is not valid Unicode") from None
    return value


def _text(body: Mapping[str, Any], name: str, limit: int, default: str | None) -> str:
    value = body.get(name, default)
    if value is None:
        raise WebhookPolicyInvalid(f"{name} is required")
    if not isinstance(value, str):
        raise WebhookPolicyInvalid(f"{name} must be a string")
    if len(value) > limit:
        raise WebhookPolicyInvalid(f"{name} is longer than {limit} characters")
    return _storable(value, name)


def _event_types(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise WebhookPolicyInvalid("event_types must be a non-empty list")
    found: list[str] = []
    for item in value:
        if item not in EVENT_TYPES:
            raise WebhookPolicyInvalid(f"unsupported event type {item!r}")
        if item not in found:
            found.append(item)
    return found


def _address(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise WebhookPolicyInvalid("a target needs an address")
    address = _storable(value.strip(), "address")
    if len(address) > _MAX_ADDRESS or any(c.isspace() or ord(c) < 32 for c in address):
        raise WebhookPolicyInvalid("the target address is not a valid URL")
    try:
        parts = urlsplit(address)
        host = parts.hostname
        _ = parts.port  # raises on a malformed port
        httpx.URL(address)  # what delivery will send to must parse there too (IDNA, …)
    except (ValueError, httpx.InvalidURL):
        raise WebhookPolicyInvalid("the target address is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise WebhookPolicyInvalid("the target address must be an http:// or https:// URL")
    # As Harbor does against SSRF tricks: keep scheme, host, port and path only.
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def _target(value: Any, current: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WebhookPolicyInvalid("each target must be an object")
    kind = value.get("type") or HTTP
    if not isinstance(kind, str) or kind not in NOTIFY_TYPES:
        raise WebhookPolicyInvalid(f"unsupported target type {kind!r}")
    address = _address(value.get("address"))
    payload_format = value.get("payload_format") or ""
    if kind in PAYLOAD_FORMATS:
        payload_format = payload_format or DEFAULT_FORMAT
        if payload_format not in PAYLOAD_FORMATS[kind]:
            raise WebhookPolicyInvalid(f"unsupported payload format {payload_format!r}")
    elif payload_format in ("", DEFAULT_FORMAT):
        payload_format = ""
    else:
        raise WebhookPolicyInvalid(f"a payload format is not allowed for {kind} targets")
    skip = value.get("skip_cert_verify", False)
    if not isinstance(skip, bool):
        raise WebhookPolicyInvalid("skip_cert_verify must be a boolean")
    if "auth_header" in value:
        auth_header = value["auth_header"] if value["auth_header"] is not None else ""
        if not isinstance(auth_header, str) or len(auth_header) > _MAX_AUTH_HEADER:
            raise WebhookPolicyInvalid("auth_header must be a string")
        # It becomes the Authorization header: one line of visible ASCII.
        if any(c not in _HEADER_CHARACTERS for c in auth_header):
            raise WebhookPolicyInvalid("auth_header must be a single line of printable ASCII")
    else:
        # The API never shows the header; a target sent back without it keeps its header.
        auth_header = next(
            (
                str(t.get("auth_header") or "")
                for t in current
                if t.get("address") == address and (t.get("type") or HTTP) == kind
            ),
            "",
        )
    return {
        "type": kind,
        "address": address,
        "auth_header": auth_header,
        "skip_cert_verify": skip,
        "payload_format": payload_format,
    }


def validate_policy(
    body: Mapping[str, Any], current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The stored fields of the policy ``body`` describes. On an update (``current`` given)
    fields left out keep their values."""

    def given(name: str, default: Any) -> Any:
        if name in body:
            return body[name]
        return current[name] if current is not None else default

    name = _text(body, "name", _MAX_NAME, None if current is None else current["name"]).strip()
    if not name:
        raise WebhookPolicyInvalid("name is required")
    description = _text(
        body, "description", _MAX_DESCRIPTION, "" if current is None else current["description"]
    )
    enabled = given("enabled", True)
    if not isinstance(enabled, bool):
        raise WebhookPolicyInvalid("enabled must be a boolean")
    event_types = _event_types(given("event_types", None))
    raw_targets = given("targets", None)
    if not isinstance(raw_targets, list) or not raw_targets:
        raise WebhookPolicyInvalid("targets must be a non-empty list")
    if len(raw_targets) > _MAX_TARGETS:
        raise WebhookPolicyInvalid(f"a policy has at most {_MAX_TARGETS} targets")
    existing: list[Mapping[str, Any]] = list(current["targets"]) if current is not None else []
    return {
        "name": name,
        "description": description,
        "enabled": enabled,
        "event_types": event_types,
        "targets": [_target(t, existing) for t in raw_targets],
    }


def seal_targets(box: SecretBox, targets: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Targets as they are stored: each auth header sealed. Delivery jobs carry them so."""
    return [seal_target(box, dict(t)) for t in targets]


def public_target(target: Mapping[str, Any]) -> dict[str, Any]:
    """A target as the API shows it: the auth header is write-only."""
    return {
        "type": target.get("type") or HTTP,
        "address": target.get("address", ""),
        "skip_cert_verify": bool(target.get("skip_cert_verify", False)),
        "payload_format": target.get("payload_format") or "",
    }


# --- events ----------------------------------------------------------------------------------


async def notify(
    b: Backends,
    event: Event,
    *,
    retries: int = RETRIES_DEFAULT,
    retry_base_seconds: float = RETRY_BASE_SECONDS_DEFAULT,
    timeout_seconds: float = TIMEOUT_SECONDS_DEFAULT,
) -> list[int]:
    """Start a delivery job for every target of every enabled policy of the event's project
    that subscribes to its type; return the job ids. Never raises: a failure here must not
    reach the request that caused the event, so it is logged and the rest goes on."""
    try:
        policies = await webhooks.subscribed(b.db, event.project_id, event.type)
    except Exception:
        log.exception("looking up webhook policies for %s failed", event.type)
        return []
    job_ids: list[int] = []
    for policy in policies:
        for target in policy["targets"]:
            content_type, payload = body_for(event, target, policy["id"])
            parameters = {
                "policy_id": policy["id"],
                "project_id": event.project_id,
                "event_type": event.type,
                "target": seal_target(b.secrets, dict(target)),
                "content_type": content_type,
                # As text: jsonb would reorder the keys, and retries send the same bytes.
                "body": json.dumps(payload, separators=(",", ":")),
                "max_attempts": 1 + max(retries, 0),
                "retry_base_seconds": retry_base_seconds,
                "timeout_seconds": timeout_seconds,
            }
            try:
                job_ids.append(await jobs.submit(b, KIND, parameters, trigger="EVENT"))
            except Exception:
                log.exception(
                    "starting the %s webhook of policy %d failed", event.type, policy["id"]
                )
    return job_ids


# --- delivery --------------------------------------------------------------------------------


class Log(Protocol):
    async def __call__(self, message: str, level: str = ...) -> None: ...


def retry_delay(attempt: int, base_seconds: float) -> float:
    """Exponential backoff: base, twice that, four times that, … capped at five minutes."""
    return float(min(base_seconds * 2 ** max(attempt - 1, 0), RETRY_DELAY_CAP_SECONDS))


def _where(address: str) -> str:
    """The address without credentials, path or query (a Slack URL's path is its secret)."""
    parts = urlsplit(address)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


async def deliver(
    parameters: Mapping[str, Any], attempt: int, log_line: Log, box: SecretBox
) -> dict[str, Any]:
    """POST the job's payload to its target once. A 2xx answer is success; anything else,
    or no answer, raises :class:`RetryLater` with the backoff for this attempt. The target's
    auth header travels sealed in the job and is opened only here, with ``box``."""
    target: Mapping[str, Any] = parameters["target"]
    address = str(target["address"])
    auth_header = box.reveal(str(target.get("auth_header") or ""), WEBHOOK_AUTH_HEADER)
    body = str(parameters["body"]).encode()
    headers = {"Content-Type": str(parameters.get("content_type") or JSON)}
    if auth_header:
        headers["Authorization"] = auth_header
    delay = retry_delay(
        attempt, float(parameters.get("retry_base_seconds", RETRY_BASE_SECONDS_DEFAULT))
    )
    timeout = float(parameters.get("timeout_seconds", TIMEOUT_SECONDS_DEFAULT))

    def masked(text: str) -> str:
        return text.replace(auth_header, "******") if auth_header else text

    if attempt == 1:
        await log_line(f"request body: {body.decode()}")
    await log_line(f"attempt {attempt}: POST {_where(address)} ({parameters.get('event_type')})")
    try:
        async with httpx.AsyncClient(
            verify=not target.get("skip_cert_verify", False), timeout=timeout
        ) as client:
            response = await client.post(address, content=body, headers=headers)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        reason = masked(f"{type(exc).__name__}: {exc}")
        await log_line(f"attempt {attempt}: no response: {reason}", "WARNING")
        raise RetryLater(f"no response from the endpoint ({reason})", delay) from None
    await log_line(f"attempt {attempt}: receive response, status code: {response.status_code}")
    if 200 <= response.status_code < 300:
        await log_line("send webhook successfully")
        return {"status_code": response.status_code}
    excerpt = masked(response.text[:_LOGGED_RESPONSE_CHARS])
    if excerpt:
        await log_line(f"response body: {excerpt}", "WARNING")
    raise RetryLater(f"the endpoint answered {response.status_code}", delay)
