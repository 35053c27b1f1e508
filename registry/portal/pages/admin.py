"""Administration for system admins: users, groups, configuration (with an LDAP "Test"
button) and every job."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from registry.auth import ldap
from registry.auth.base import AuthBackendError
from registry.portal.endpoint import page, see_other
from registry.portal.errors import status_of
from registry.portal.forms import Form, path_id, signed_form, whole_number
from registry.portal.security import backends, sysadmin
from registry.portal.templating import render
from registry.query import ListQuery, parse_filters
from registry.services import audit, gc, retention, system, user, usergroup, webhook
from registry.services import jobs as job_service
from registry.services.configuration import for_display
from registry.services.errors import RegistryError
from registry.services.identity import ldap_config

LIST_SIZE = 100
JOB_KINDS = (gc.KIND, audit.PURGE_KIND, retention.EXECUTION_KIND, retention.TASK_KIND, webhook.KIND)


# ------------------------------------------------------------------------------------ users


async def _users_page(
    request: Request, *, error: str | None = None, status: int = 200, form: dict[str, str]
) -> Response:
    search = request.query_params.get("q", "").strip()
    filters = parse_filters(f"username=~{search}") if search else {}
    rows, total = await user.list_users(backends(request), ListQuery(filters, (), 1, LIST_SIZE))
    return render(
        request,
        "admin/users.html",
        {"users": rows, "total": total, "search": search, "form": form, "error": error},
        status=status,
        title="Users",
    )


@page
async def users(request: Request) -> Response:
    await sysadmin(request)
    return await _users_page(request, form={})


@page
async def create_user(request: Request) -> Response:
    form = await signed_form(request)
    principal = await sysadmin(request)
    values = {k: form.get(k) for k in ("username", "email", "realname")}
    try:
        await user.create_user(
            backends(request),
            principal,
            values["username"],
            form.get("password"),
            email=values["email"] or None,
            realname=values["realname"],
        )
    except RegistryError as exc:
        return await _users_page(request, error=exc.message, status=status_of(exc), form=values)
    return see_other(f"/admin/users?notice=User%20{values['username']}%20created.")


@page
async def delete_user(request: Request) -> Response:
    await signed_form(request)
    principal = await sysadmin(request)
    await user.delete_user(backends(request), principal, path_id(request, "user_id"))
    return see_other("/admin/users?notice=User%20deleted.")


@page
async def toggle_sysadmin(request: Request) -> Response:
    form = await signed_form(request)
    principal = await sysadmin(request)
    await user.set_sysadmin(
        backends(request), principal, path_id(request, "user_id"), form.flag("sysadmin")
    )
    return see_other("/admin/users?notice=Administrator%20rights%20changed.")


# ----------------------------------------------------------------------------------- groups


async def _groups_page(
    request: Request, *, error: str | None = None, status: int = 200
) -> Response:
    rows, total = await usergroup.list_groups(backends(request), ListQuery(page_size=LIST_SIZE))
    return render(
        request,
        "admin/groups.html",
        {"groups": rows, "total": total, "error": error},
        status=status,
        title="Groups",
    )


@page
async def groups(request: Request) -> Response:
    await sysadmin(request)
    return await _groups_page(request)


@page
async def create_group(request: Request) -> Response:
    form = await signed_form(request)
    principal = await sysadmin(request)
    try:
        await usergroup.create_group(
            backends(request),
            principal,
            form.get("group_name"),
            usergroup.LDAP,
            form.get("ldap_group_dn") or None,
        )
    except RegistryError as exc:
        return await _groups_page(request, error=exc.message, status=status_of(exc))
    return see_other("/admin/groups?notice=Group%20added.")


@page
async def delete_group(request: Request) -> Response:
    await signed_form(request)
    principal = await sysadmin(request)
    await usergroup.delete_group(backends(request), principal, path_id(request, "group_id"))
    return see_other("/admin/groups?notice=Group%20deleted.")


# ---------------------------------------------------------------------------- configuration

TEXT_KEYS = (
    "ldap_url",
    "ldap_search_dn",
    "ldap_base_dn",
    "ldap_filter",
    "ldap_uid",
    "ldap_group_base_dn",
    "ldap_group_search_filter",
    "ldap_group_attribute_name",
    "ldap_group_membership_attribute",
    "ldap_group_admin_dn",
)
INT_KEYS = ("token_expiration", "ldap_scope", "ldap_timeout")


def _configuration_values(form: Form) -> dict[str, Any]:
    values: dict[str, Any] = {
        "auth_mode": form.get("auth_mode", "db_auth"),
        "project_creation_restriction": form.get("project_creation_restriction", "everyone"),
        "ldap_verify_cert": form.flag("ldap_verify_cert"),
    }
    values.update({key: form.get(key) for key in TEXT_KEYS})
    for key in INT_KEYS:
        text = form.get(key)
        number = whole_number(text)
        values[key] = text if number is None else number
    if form.get("ldap_search_password"):
        values["ldap_search_password"] = form.get("ldap_search_password")
    return values


async def _configuration_page(
    request: Request,
    *,
    error: str | None = None,
    status: int = 200,
    test_result: tuple[bool, str] | None = None,
    shown: dict[str, Any] | None = None,
) -> Response:
    stored = await backends(request).config.get(fresh=True)
    current = {k: v["value"] for k, v in for_display(stored).items()}
    current.update(shown or {})
    return render(
        request,
        "admin/configuration.html",
        {"config": current, "error": error, "test_result": test_result},
        status=status,
        title="Configuration",
    )


@page
async def configuration(request: Request) -> Response:
    await sysadmin(request)
    return await _configuration_page(request)


@page
async def save_configuration(request: Request) -> Response:
    form = await signed_form(request)
    principal = await sysadmin(request)
    values = _configuration_values(form)
    try:
        await system.update_configuration(backends(request), principal, values)
    except RegistryError as exc:
        values.pop("ldap_search_password", None)
        return await _configuration_page(
            request, error=exc.message, status=status_of(exc), shown=values
        )
    return see_other("/admin/configuration?notice=Configuration%20saved.")


@page
async def test_ldap(request: Request) -> Response:
    """Try the LDAP settings on the form (the stored bind password when none is typed)."""
    form = await signed_form(request)
    await sysadmin(request)
    values = _configuration_values(form)
    stored = await backends(request).config.get(fresh=True)
    merged = {**stored, **{k: v for k, v in values.items() if k.startswith("ldap_")}}
    values.pop("ldap_search_password", None)
    try:
        await ldap.ping(ldap_config(merged))
    except AuthBackendError as exc:
        return await _configuration_page(request, test_result=(False, str(exc)), shown=values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return await _configuration_page(
            request,
            test_result=(False, f"invalid LDAP settings: {where}: {first['msg']}"),
            shown=values,
        )
    return await _configuration_page(
        request, test_result=(True, "Connected to the LDAP server."), shown=values
    )


# ------------------------------------------------------------------------------------- jobs


@page
async def jobs(request: Request) -> Response:
    await sysadmin(request)
    rows, total = await job_service.list_jobs(
        backends(request), list(JOB_KINDS), ListQuery(page_size=LIST_SIZE)
    )
    return render(request, "admin/jobs.html", {"jobs": rows, "total": total}, title="Jobs")
