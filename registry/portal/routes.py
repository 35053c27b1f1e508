"""The portal's routes. Later features add their pages here and their menu entries in
``navigation.py``."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from registry.portal.pages import (
    admin,
    artifact_labels,
    artifact_view,
    artifacts,
    charts,
    dashboard,
    login,
    project,
    project_settings,
    projects,
    registries,
    replication,
    retention_rules,
    scanners,
    system_jobs,
    webhooks,
)
from registry.portal.static import serve_static

_ARTIFACT = artifact_view.ARTIFACT

routes: list[BaseRoute] = [
    Route("/", login.login_form, methods=["GET"]),
    Route("/", login.login, methods=["POST"]),
    Route("/logout", login.logout, methods=["POST"]),
    Route("/static/{name}", serve_static, methods=["GET"]),
    Route("/projects", projects.list_projects, methods=["GET"]),
    Route("/projects", projects.create_project, methods=["POST"]),
    Route(f"{_ARTIFACT}/tags", artifacts.add_tag, methods=["POST"]),
    Route(f"{_ARTIFACT}/tags/{{tag}}/delete", artifacts.remove_tag, methods=["POST"]),
    Route(f"{_ARTIFACT}/delete", artifacts.delete_artifact, methods=["POST"]),
    Route(f"{_ARTIFACT}/copy", artifacts.copy_artifact, methods=["POST"]),
    # One artifact's page and its scans: before the repository page, whose :path takes all.
    Route(f"{_ARTIFACT}/scan", artifact_view.start_scan, methods=["POST"]),
    Route(f"{_ARTIFACT}/scan-panel", artifact_view.scan_panel, methods=["GET"]),
    Route(f"{_ARTIFACT}/sbom", artifact_view.generate_sbom, methods=["POST"]),
    Route(f"{_ARTIFACT}/sbom", artifact_view.download_sbom, methods=["GET"]),
    Route(_ARTIFACT, artifact_view.artifact_page, methods=["GET"]),
    *artifact_labels.routes,
    Route(
        "/projects/{project}/repositories/{repository:path}/delete",
        artifacts.delete_repository,
        methods=["POST"],
    ),
    Route(
        "/projects/{project}/repositories/{repository:path}",
        artifacts.repository_page,
        methods=["GET"],
    ),
    Route("/projects/{project}", project.project_home, methods=["GET"]),
    Route("/projects/{project}/members", project.add_member, methods=["POST"]),
    Route(
        "/projects/{project}/members/{member_id}/delete", project.remove_member, methods=["POST"]
    ),
    Route("/projects/{project}/configuration", project.update_configuration, methods=["POST"]),
    Route("/projects/{project}/labels", project_settings.add_label, methods=["POST"]),
    Route(
        "/projects/{project}/labels/{label_id}/delete",
        project_settings.delete_label,
        methods=["POST"],
    ),
    Route("/projects/{project}/immutability", project_settings.add_rule, methods=["POST"]),
    Route(
        "/projects/{project}/immutability/{rule_id}/delete",
        project_settings.delete_rule,
        methods=["POST"],
    ),
    Route("/projects/{project}/retention/run", project_settings.run_retention, methods=["POST"]),
    Route(
        "/projects/{project}/retention/{execution_id}/row",
        project_settings.retention_row,
        methods=["GET"],
    ),
    Route("/projects/{project}/robots", project_settings.add_robot, methods=["POST"]),
    Route(
        "/projects/{project}/robots/{robot_id}/delete",
        project_settings.delete_robot,
        methods=["POST"],
    ),
    Route("/projects/{project}/charts/upload", charts.upload_chart, methods=["POST"]),
    Route(
        "/projects/{project}/charts/{name}/versions/{version}",
        charts.version_page,
        methods=["GET"],
    ),
    Route(
        "/projects/{project}/charts/{name}/versions/{version}/delete",
        charts.delete_version,
        methods=["POST"],
    ),
    Route("/projects/{project}/{tab}", project.project_tab, methods=["GET"]),
    Route("/admin/users", admin.users, methods=["GET"]),
    Route("/admin/users", admin.create_user, methods=["POST"]),
    Route("/admin/users/{user_id}/delete", admin.delete_user, methods=["POST"]),
    Route("/admin/users/{user_id}/sysadmin", admin.toggle_sysadmin, methods=["POST"]),
    Route("/admin/groups", admin.groups, methods=["GET"]),
    Route("/admin/groups", admin.create_group, methods=["POST"]),
    Route("/admin/groups/{group_id}/delete", admin.delete_group, methods=["POST"]),
    Route("/admin/configuration", admin.configuration, methods=["GET"]),
    Route("/admin/configuration", admin.save_configuration, methods=["POST"]),
    Route("/admin/configuration/ldap-test", admin.test_ldap, methods=["POST"]),
    Route("/admin/jobs", admin.jobs, methods=["GET"]),
    Route("/dashboard", dashboard.dashboard, methods=["GET"]),
    *system_jobs.routes,
    *replication.routes,
    *scanners.routes,
    *webhooks.routes,
    *retention_rules.routes,
    *registries.routes,
]
