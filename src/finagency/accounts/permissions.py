"""The one place that says what each role, and each API key scope, may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"
    analyst = "analyst"
    editor = "editor"
    admin = "admin"


class Permission(StrEnum):
    read = "read"
    request_content = "request_content"
    edit_content = "edit_content"
    approve_content = "approve_content"
    publish = "publish"
    manage_users = "manage_users"
    manage_channels = "manage_channels"
    manage_keys = "manage_keys"
    manage_settings = "manage_settings"
    read_audit = "read_audit"
    override_compliance = "override_compliance"


class Scope(StrEnum):
    """What an API key may be used for, on top of what its owner's role allows."""

    read = "read"
    content_write = "content:write"
    publish = "publish"


_VIEWER = {Permission.read}
_ANALYST = _VIEWER | {Permission.request_content}
_EDITOR = _ANALYST | {Permission.edit_content, Permission.approve_content, Permission.publish}
_ADMIN = set(Permission)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.viewer: frozenset(_VIEWER),
    Role.analyst: frozenset(_ANALYST),
    Role.editor: frozenset(_EDITOR),
    Role.admin: frozenset(_ADMIN),
}

# The scope an API key needs for each permission. Administration is never done with a key:
# automations write and publish content, people manage people, keys and channels.
SCOPE_FOR: dict[Permission, Scope | None] = {
    Permission.read: Scope.read,
    Permission.request_content: Scope.content_write,
    Permission.edit_content: Scope.content_write,
    Permission.approve_content: Scope.publish,
    Permission.publish: Scope.publish,
    Permission.manage_users: None,
    Permission.manage_channels: None,
    Permission.manage_keys: None,
    Permission.manage_settings: None,
    Permission.read_audit: None,
    Permission.override_compliance: None,
}


def role_allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def key_allows(role: Role, scopes: list[str], permission: Permission) -> bool:
    scope = SCOPE_FOR[permission]
    return scope is not None and scope.value in scopes and role_allows(role, permission)
