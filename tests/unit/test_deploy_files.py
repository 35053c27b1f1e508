"""The deployment files as a user runs them: docker-compose.yml valid against the Compose
specification's JSON schema (the copy check-jsonschema vendors, so the check runs offline)
and wired as documented; the Dockerfile's health check and build context; nginx.conf naming
the settings Berth really reads."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from pydantic import BaseModel

from registry.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _compose_schema() -> dict[str, Any]:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema: dict[str, Any] = json.loads(vendored.read_text("utf-8"))
    return schema


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose


def test_compose_file_matches_the_compose_specification() -> None:
    schema = _compose_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_compose())]
    assert errors == []
    # The check bites: a misspelt key or a wrong type is an error.
    broken = _compose()
    broken["services"]["nginx"]["restrat"] = "always"
    broken["services"]["redis"]["ports"] = 6379
    assert len(list(validator.iter_errors(broken))) >= 2


def test_compose_runs_nginx_two_api_replicas_worker_scheduler_and_the_services() -> None:
    services = _compose()["services"]
    assert set(services) == {
        "nginx",
        "api-1",
        "api-2",
        "worker",
        "scheduler",
        "postgres",
        "redis",
        "s3",
    }
    assert services["s3"]["profiles"] == ["s3"]
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert "healthcheck" in service, name
    for name in ("api-1", "api-2"):
        api = services[name]
        assert api["network_mode"] == "service:nginx"
        assert api["healthcheck"]["test"][0] == "CMD"
        # No default admin password: compose stops with this message when it is unset.
        assert api["environment"]["BERTH_ADMIN_PASSWORD"].startswith("${BERTH_ADMIN_PASSWORD:?")
    assert {
        services["api-1"]["environment"]["BERTH_PORT"],
        services["api-2"]["environment"]["BERTH_PORT"],
    } == {"5000", "5001"}
    # nginx.conf's upstream is exactly those two ports on its own loopback.
    upstreams = re.findall(r"^\s*server (\S+) ", (ROOT / "deploy/nginx.conf").read_text(), re.M)
    assert upstreams == ["127.0.0.1:5000", "127.0.0.1:5001"]
    assert services["scheduler"]["command"] == ["berth", "scheduler"]
    assert services["worker"]["command"][:2] == ["berth", "worker"]
    volumes = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    assert "berth-data" in volumes
    # Every Berth container shares the same blob volume and secret key location.
    for name in ("api-1", "api-2", "worker", "scheduler"):
        assert services[name]["volumes"] == ["berth-data:/var/lib/berth"], name
        assert services[name]["environment"]["BERTH_DATA_DIR"] == "/var/lib/berth", name


def test_dockerfile_has_a_health_check_and_a_small_build_context() -> None:
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    assert re.search(r"^HEALTHCHECK .*\\\n\s+CMD \[.*/api/v2\.0/ping", dockerfile, re.M)
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in (".git", ".venv", ".cache", "tests", "berth-data"):
        assert path in ignored
    for needed in ("registry", "pyproject.toml", "README.md", "constraints.txt"):
        assert needed not in ignored
        assert f"COPY {needed}" in dockerfile or f" {needed} " in dockerfile


def test_nginx_conf_names_settings_berth_reads() -> None:
    text = (ROOT / "deploy/nginx.conf").read_text()
    assert "FORWARDED_ALLOW_IPS" not in text
    assert "BERTH_TRUSTED_PROXIES" in text
    for name in re.findall(r"BERTH_([A-Z_]+)", text):
        assert _is_setting(name.lower()), name


def _is_setting(env_name: str) -> bool:
    """Whether ``BERTH_<ENV_NAME>`` is a setting Berth reads (``__`` goes one model deeper)."""
    model: type[BaseModel] = Settings
    *parents, leaf = env_name.split("__")
    for part in parents:
        field = model.model_fields.get(part)
        if field is None or not (
            isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        ):
            return False
        model = field.annotation
    return leaf in model.model_fields
