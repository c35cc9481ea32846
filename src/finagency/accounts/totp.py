"""The optional second factor: TOTP (RFC 6238) with single-use recovery codes."""

from __future__ import annotations

import secrets

import pyotp
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from finagency import crypto
from finagency.accounts import audit, passwords
from finagency.accounts.audit import Actor
from finagency.accounts.models import RecoveryCode, User
from finagency.accounts.tokens import digest
from finagency.db import utcnow
from finagency.errors import Conflict, FinagencyError
from finagency.settings import Settings

ISSUER = "AI Finance Agency"
RECOVERY_CODES = 10


def _normalise_recovery(code: str) -> str:
    return code.replace("-", "").replace(" ", "").lower()


async def enrol(session: AsyncSession, settings: Settings, user: User) -> tuple[str, str]:
    """A new secret (not active until confirmed with a code): returns (secret, otpauth URI)."""
    if user.totp_enabled:
        raise Conflict("A second factor is already active; disable it first.")
    secret = pyotp.random_base32()
    user.totp_secret = crypto.encrypt(settings, secret)
    await session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return secret, uri


def _code_matches(settings: Settings, user: User, code: str) -> bool:
    """The code of the current 30 s step or a neighbour, never one already used (no replay)."""
    if not user.totp_secret or not code.isdigit():
        return False
    totp = pyotp.TOTP(crypto.decrypt(settings, user.totp_secret))
    now_step = totp.timecode(utcnow())
    for step in (now_step - 1, now_step, now_step + 1):
        if step > (user.totp_last_step or -1) and secrets.compare_digest(
            totp.generate_otp(step), code
        ):
            user.totp_last_step = step
            return True
    return False


async def confirm(
    session: AsyncSession, settings: Settings, actor: Actor, user: User, code: str
) -> list[str]:
    if user.totp_enabled:
        raise Conflict("A second factor is already active.")
    if not user.totp_secret:
        raise FinagencyError("Start the enrolment first.", 409, "totp-not-enrolled")
    if not _code_matches(settings, user, code):
        raise FinagencyError(
            "That code is not valid; check the device's clock.", 400, "invalid-code"
        )
    user.totp_enabled = True
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.add_all(
        RecoveryCode(user_id=user.id, code_hash=digest(_normalise_recovery(code))) for code in codes
    )
    audit.record(session, "totp_enabled", actor, "user", user.id)
    await session.flush()
    return codes


async def disable(
    session: AsyncSession, settings: Settings, actor: Actor, user: User, password: str, code: str
) -> None:
    if not passwords.verify_password(settings, user.password_hash, password) or not await verify(
        session, settings, user, code
    ):
        raise FinagencyError("The password or the code is wrong.", 400, "invalid-code")
    user.totp_enabled = False
    user.totp_secret = None
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    audit.record(session, "totp_disabled", actor, "user", user.id)


async def verify(session: AsyncSession, settings: Settings, user: User, code: str) -> bool:
    """A current TOTP code, or an unused recovery code (which is then spent)."""
    if _code_matches(settings, user, code):
        return True
    spent = await session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == digest(_normalise_recovery(code)),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    return bool(getattr(spent, "rowcount", 0))


async def recovery_codes_left(session: AsyncSession, user: User) -> int:
    rows = await session.scalars(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )
    return len(list(rows))
