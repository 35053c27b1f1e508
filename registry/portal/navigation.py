"""The portal's menus, as data: a feature adds its page by adding an entry here.

``SECTIONS`` is the side menu (the Administration section shows to system admins only);
``PROJECT_TABS`` are the tabs of a project page. Entries name the URL path they lead to; the
template marks the one the current page belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Entry:
    label: str
    path: str


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    entries: tuple[Entry, ...]
    admin_only: bool = False


SECTIONS: tuple[Section, ...] = (
    Section(
        "Registry",
        (Entry("Projects", "/projects"), Entry("Dashboard", "/dashboard")),
    ),
    Section(
        "Administration",
        (
            Entry("Users", "/admin/users"),
            Entry("Groups", "/admin/groups"),
            Entry("Garbage collection", "/admin/gc"),
            Entry("Audit-log purge", "/admin/purge-audit"),
            Entry("Jobs", "/admin/jobs"),
            Entry("Configuration", "/admin/configuration"),
            Entry("Registries", "/admin/registries"),
            Entry("Replications", "/admin/replications"),
            Entry("Scanners", "/admin/scanners"),
        ),
        admin_only=True,
    ),
)

# (slug, label, the action the tab needs): the page of tab ``slug`` is
# /projects/<name>/<slug>, shown to those who may do the action (as the API would answer).
PROJECT_TABS: tuple[tuple[str, str, str], ...] = (
    ("repositories", "Repositories", "read-project"),
    ("members", "Members", "read-members"),
    ("robots", "Robot accounts", "read-robots"),
    ("labels", "Labels", "read-labels"),
    ("immutability", "Tag immutability", "manage-immutable-rules"),
    ("retention", "Tag retention", "read-project"),
    ("webhooks", "Webhooks", "list-webhooks"),
    ("logs", "Logs", "read-logs"),
    ("configuration", "Configuration", "read-project"),
    ("charts", "Charts", "read-chart"),
)


def sections_for(sysadmin: bool) -> list[Section]:
    return [s for s in SECTIONS if sysadmin or not s.admin_only]
