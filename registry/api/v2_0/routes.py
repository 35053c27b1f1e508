"""The /api/v2.0 routing table."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.api.v2_0 import (
    artifacts,
    audit_log_exts,
    audit_logs,
    cli_secret,
    immutable,
    jobservice,
    labels,
    ldap,
    members,
    openapi,
    permissions,
    project_metadata,
    projects,
    quotas,
    registries,
    replication,
    repositories,
    retentions,
    robots,
    scan,
    scanners,
    system,
    system_info,
    system_jobs,
    usergroups,
    users,
    webhooks,
)
from registry.api.v2_0.endpoint import harbor_endpoint
from registry.api.v2_0.errors import NotFound

_P = "/api/v2.0/projects/{project_name_or_id}"
_R = "/api/v2.0/projects/{project_name}/repositories/{repository_name:path}"
_A = _R + "/artifacts/{reference}"

routes = [
    Route("/api/v2.0/ping", system.ping, methods=["GET"]),
    Route("/api/v2.0/health", system.health, methods=["GET"]),
    Route("/api/v2.0/systeminfo", system.systeminfo, methods=["GET"]),
    Route("/api/v2.0/configurations", system.get_configurations, methods=["GET"]),
    Route("/api/v2.0/configurations", system.put_configurations, methods=["PUT"]),
    # Before the GET route, which Starlette also makes answer HEAD.
    Route("/api/v2.0/projects", projects.head_project, methods=["HEAD"]),
    Route("/api/v2.0/projects", projects.list_projects, methods=["GET"]),
    Route("/api/v2.0/projects", projects.create_project, methods=["POST"]),
    Route(_P, projects.get_project, methods=["GET"]),
    Route(_P, projects.update_project, methods=["PUT"]),
    Route(_P, projects.delete_project, methods=["DELETE"]),
    Route(f"{_P}/_deletable", projects.deletable, methods=["GET"]),
    Route(f"{_P}/summary", projects.summary, methods=["GET"]),
    Route(f"{_P}/members", members.list_members, methods=["GET"]),
    Route(f"{_P}/members", members.add_member, methods=["POST"]),
    Route(f"{_P}/members/{{mid}}", members.get_member, methods=["GET"]),
    Route(f"{_P}/members/{{mid}}", members.update_member, methods=["PUT"]),
    Route(f"{_P}/members/{{mid}}", members.delete_member, methods=["DELETE"]),
    Route(f"{_P}/logs", audit_logs.project_logs, methods=["GET"]),
    Route("/api/v2.0/audit-logs", audit_logs.list_audit_logs, methods=["GET"]),
    Route("/api/v2.0/users", users.list_users, methods=["GET"]),
    Route("/api/v2.0/users", users.create_user, methods=["POST"]),
    Route("/api/v2.0/users/current", users.current_user, methods=["GET"]),
    Route("/api/v2.0/users/search", users.search_users, methods=["GET"]),
    Route("/api/v2.0/users/{user_id}", users.get_user, methods=["GET"]),
    Route("/api/v2.0/users/{user_id}", users.update_user, methods=["PUT"]),
    Route("/api/v2.0/users/{user_id}", users.delete_user, methods=["DELETE"]),
    Route("/api/v2.0/users/{user_id}/password", users.change_password, methods=["PUT"]),
    Route("/api/v2.0/users/{user_id}/sysadmin", users.set_sysadmin, methods=["PUT"]),
    Route("/api/v2.0/robots", robots.list_robots, methods=["GET"]),
    Route("/api/v2.0/robots", robots.create_robot, methods=["POST"]),
    Route("/api/v2.0/robots/{robot_id}", robots.get_robot, methods=["GET"]),
    Route("/api/v2.0/robots/{robot_id}", robots.update_robot, methods=["PUT"]),
    Route("/api/v2.0/robots/{robot_id}", robots.refresh_secret, methods=["PATCH"]),
    Route("/api/v2.0/robots/{robot_id}", robots.delete_robot, methods=["DELETE"]),
    Route("/api/v2.0/ldap/ping", ldap.ping, methods=["POST"]),
    Route("/api/v2.0/ldap/users/search", ldap.search_users, methods=["GET"]),
    Route("/api/v2.0/ldap/users/import", ldap.import_users, methods=["POST"]),
    Route("/api/v2.0/ldap/groups/search", ldap.search_groups, methods=["GET"]),
    Route("/api/v2.0/usergroups", usergroups.list_groups, methods=["GET"]),
    Route("/api/v2.0/usergroups", usergroups.create_group, methods=["POST"]),
    Route("/api/v2.0/usergroups/search", usergroups.search_groups, methods=["GET"]),
    Route("/api/v2.0/usergroups/{group_id}", usergroups.get_group, methods=["GET"]),
    Route("/api/v2.0/usergroups/{group_id}", usergroups.update_group, methods=["PUT"]),
    Route("/api/v2.0/usergroups/{group_id}", usergroups.delete_group, methods=["DELETE"]),
    *system_jobs.routes,
    Route("/api/v2.0/statistics", system.statistics, methods=["GET"]),
    Route("/api/v2.0/search", system.search, methods=["GET"]),
    Route("/api/v2.0/quotas", quotas.list_quotas, methods=["GET"]),
    Route("/api/v2.0/quotas/{id}", quotas.get_quota, methods=["GET"]),
    Route("/api/v2.0/quotas/{id}", quotas.update_quota, methods=["PUT"]),
    Route("/api/v2.0/repositories", repositories.list_all, methods=["GET"]),
    Route(
        "/api/v2.0/projects/{project_name}/repositories",
        repositories.list_in_project,
        methods=["GET"],
    ),
    *labels.routes,
    *immutable.routes,
    *retentions.routes,
    *webhooks.routes,
    # Scanning: before the repository routes below, whose :path would take …/scan/… too.
    *scanners.routes,
    *scan.routes,
    *registries.routes,
    *replication.routes,
    # Longest paths first: a repository name may itself contain "/artifacts/".
    Route(f"{_A}/tags/{{tag_name}}", artifacts.delete_tag, methods=["DELETE"]),
    Route(f"{_A}/tags", artifacts.list_tags, methods=["GET"]),
    Route(f"{_A}/tags", artifacts.create_tag, methods=["POST"]),
    Route(f"{_A}/accessories", artifacts.list_accessories, methods=["GET"]),
    Route(f"{_A}/additions/{{addition}}", artifacts.addition, methods=["GET"]),
    Route(_A, artifacts.get_artifact, methods=["GET"]),
    Route(_A, artifacts.delete_artifact, methods=["DELETE"]),
    Route(f"{_R}/artifacts", artifacts.list_artifacts, methods=["GET"]),
    Route(f"{_R}/artifacts", artifacts.copy_artifact, methods=["POST"]),
    Route(_R, repositories.get_repository, methods=["GET"]),
    Route(_R, repositories.update_repository, methods=["PUT"]),
    Route(_R, repositories.delete_repository, methods=["DELETE"]),
    *openapi.routes,
    *jobservice.routes,
    *project_metadata.routes,
    *permissions.routes,
    *system_info.routes,
    *audit_log_exts.routes,
    *cli_secret.routes,
]


@harbor_endpoint
async def no_such_endpoint(request: Request) -> Response:
    raise NotFound(f"no such endpoint: {request.method} {request.url.path}")


# Last: Harbor's JSON envelope for any /api/v2.0 path nothing above takes.
routes.append(
    Route(
        "/api/v2.0/{rest:path}",
        no_such_endpoint,
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    )
)
