"""Request and response bodies of the accounts API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from finagency.accounts.permissions import Role, Scope
from finagency.text_fields import Trimmed


def _email(value: str) -> str:
    value = value.strip().lower()
    local, at, domain = value.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
        or any(c.isspace() or not c.isprintable() or c in '<>(),;:"[]\\' for c in value)
    ):
        raise ValueError("not an e-mail address")
    return value


Email = Annotated[str, StringConstraints(min_length=3, max_length=254), AfterValidator(_email)]
# Length is checked by the policy (with a clear message); this only caps absurd bodies.
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
DisplayName = Annotated[str, Trimmed(1, 100)]
OneTimeCode = Annotated[str, Trimmed(6, 20)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Strict):
    email: Email
    password: Password
    totp_code: OneTimeCode | None = None


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class RefreshRequest(Strict):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class LogoutRequest(Strict):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None


class Me(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    role: Role
    display_name: str
    totp_enabled: bool


class UserOut(Me):
    is_active: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None


class UserCreate(Strict):
    email: Email
    display_name: DisplayName
    role: Role = Role.viewer
    # Without a password, the user is invited: they get a link to choose one.
    password: Password | None = None


class UserUpdate(Strict):
    display_name: DisplayName | None = None
    role: Role | None = None
    is_active: StrictBool | None = None


class Registration(Strict):
    email: Email
    display_name: DisplayName
    password: Password


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    detail: str


class PasswordChange(Strict):
    current_password: Password
    new_password: Password


class AdminPasswordReset(Strict):
    # Without a password, the user is e-mailed a reset link.
    new_password: Password | None = None


class PasswordResetRequest(Strict):
    email: Email


class PasswordResetConfirm(Strict):
    token: Annotated[str, StringConstraints(min_length=10, max_length=512)]
    new_password: Password


class TotpEnrolment(BaseModel):
    secret: str
    otpauth_uri: str


class PasswordConfirmation(Strict):
    password: Password


class TotpCode(Strict):
    code: OneTimeCode


class TotpDisable(Strict):
    password: Password
    code: OneTimeCode


class RecoveryCodes(BaseModel):
    recovery_codes: list[str]


class ApiKeyCreate(Strict):
    name: DisplayName
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=3)]
    # The user the automation acts as (its role bounds the key); default: the caller.
    user_id: StrictInt | None = None


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself, shown this once; only its hash is kept.")


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    action: str
    actor_id: int | None
    actor_email: str | None
    target_type: str | None
    target_id: str | None
    ip: str | None
    request_id: str | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_before_id: int | None = Field(
        description="Pass as before_id for the next (older) page; null on the last page."
    )


class RuntimeSettings(BaseModel):
    registration_open: bool


class RuntimeSettingsUpdate(Strict):
    registration_open: StrictBool | None = None
