"""The optional second factor: TOTP (RFC 6238) with single-use recovery codes."""

from __future__ import annotations

import re
import secrets

import pyotp
from sqlalchemy import delete, or_, update
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
CODE = re.compile(r"[0-9]{6}")

RECOVERY_CODES = 10


def _normalise_recovery(code: str) -> str:
    return code.replace("-", "").replace(" ", "").lower()


async def enrol(
    session: AsyncSession, settings: Settings, user: User, password: str
) -> tuple[str, str]:
    """A new secret (not active until confirmed with a code): returns (secret, otpauth URI).

    The password is asked again: a stolen token alone must not plant a second factor.
    """
    if user.totp_enabled:
        raise Conflict("A second factor is already active; disable it first.")
    if not await passwords.verify_password_async(settings, user.password_hash, password):
        raise FinagencyError("The password is wrong.", 400, "wrong-password")
    secret = pyotp.random_base32()
    user.totp_secret = crypto.encrypt(settings, secret)
    await session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return secret, uri


async def _claim_code(session: AsyncSession, settings: Settings, user: User, code: str) -> bool:
    """The code of the current 30 s step or a neighbour, each step usable once (no replay).

    The step is claimed with a conditional UPDATE, so two requests racing with one code
    cannot both win.
    """
    if not user.totp_secret or not CODE.fullmatch(code):
        return False
    totp = pyotp.TOTP(crypto.decrypt(settings, user.totp_secret))
    now_step = totp.timecode(utcnow())
    for step in (now_step - 1, now_step, now_step + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            claimed = await session.execute(
                update(User)
                .where(
                    User.id == user.id,
                    or_(User.totp_last_step.is_(None), User.totp_last_step < step),
                )
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            )
            if getattr(claimed, "rowcount", 0):
                user.totp_last_step = step
                return True
            return False
    return False


async def confirm(
    session: AsyncSession, settings: Settings, actor: Actor, user: User, code: str
) -> list[str]:
    if user.totp_enabled:
        raise Conflict("A second factor is already active.")
    if not user.totp_secret:
        raise FinagencyError("Start the enrolment first.", 409, "totp-not-enrolled")
    if not await _claim_code(session, settings, user, code):
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
) -> bool:
    """Turn the second factor off; False (and nothing changed) when the password or code is
    wrong, which the caller counts as a failed login."""
    password_ok = await passwords.verify_password_async(settings, user.password_hash, password)
    if not password_ok or not await verify(session, settings, user, code):
        return False
    await remove(session, actor, user, "totp_disabled")
    return True


async def remove(session: AsyncSession, actor: Actor, user: User, action: str) -> None:
    """Drop the second factor and its recovery codes (the owner, or an admin for a lost device)."""
    user.totp_enabled = False
    user.totp_secret = None
    user.totp_last_step = None
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    audit.record(session, action, actor, "user", user.id)


async def verify(session: AsyncSession, settings: Settings, user: User, code: str) -> bool:
    """A current TOTP code, or an unused recovery code (which is then spent)."""
    if await _claim_code(session, settings, user, code):
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
