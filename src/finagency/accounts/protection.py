"""Brute-force protection: failed-login counters, account lockout, IP blocking, auth rate limit."""

from __future__ import annotations

import math

from finagency.cache import Store
from finagency.errors import Locked, TooManyRequests
from finagency.settings import Settings

RESET_MAILS_PER_HOUR = 5


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


class LoginGuard:
    """Counts failures per account (e-mail, existing or not) and per client IP."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def check_rate(self, ip: str) -> None:
        """The auth endpoints' own rate limit (nginx has the same; this holds without it)."""
        wait = await self.store.take(
            f"auth-rate:{ip}", self.settings.auth_rate_per_second, self.settings.auth_rate_burst
        )
        if wait > 0:
            raise TooManyRequests(
                "Too many authentication requests; slow down.", headers=_retry_after(wait)
            )

    async def check_allowed(self, email: str, ip: str) -> None:
        blocked = await self.store.ttl(f"login-block:{ip}")
        if blocked > 0:
            raise self._blocked(blocked)
        locked = await self.locked_for(email)
        if locked is not None:
            raise self._locked(locked)

    async def locked_for(self, email: str) -> float | None:
        """Seconds until the account's lockout ends; None when it is not locked out."""
        seconds = await self.store.ttl(f"login-lock:{email}")
        return seconds if seconds > 0 else None

    async def record_failure(self, email: str, ip: str) -> Locked | TooManyRequests | None:
        """Count a failure; return the error to answer with when it crossed a threshold."""
        window = self.settings.login_failure_window_seconds
        account_failures = await self.store.hit(f"login-fail:{email}", window)
        ip_failures = await self.store.hit(f"login-fail-ip:{ip}", window)
        if ip_failures >= self.settings.login_ip_max_failures:
            await self.store.set(f"login-block:{ip}", "1", self.settings.lockout_seconds)
            return self._blocked(self.settings.lockout_seconds)
        if account_failures >= self.settings.login_max_failures:
            await self.store.set(f"login-lock:{email}", "1", self.settings.lockout_seconds)
            await self.store.delete(f"login-fail:{email}")
            return self._locked(self.settings.lockout_seconds)
        return None

    async def record_success(self, email: str) -> None:
        await self.store.delete(f"login-fail:{email}")

    async def allow_reset_mail(self, email: str) -> bool:
        """At most a few reset mails per address and hour: the form is no inbox flooder."""
        return await self.store.hit(f"reset-mail:{email}", 3600) <= RESET_MAILS_PER_HOUR

    async def unlock(self, email: str) -> None:
        await self.store.delete(f"login-fail:{email}", f"login-lock:{email}")

    @staticmethod
    def _locked(seconds: float) -> Locked:
        return Locked(
            "This account is locked after repeated failed logins; try again later.",
            headers=_retry_after(seconds),
        )

    @staticmethod
    def _blocked(seconds: float) -> TooManyRequests:
        return TooManyRequests(
            "Too many failed logins from this address; try again later.",
            headers=_retry_after(seconds),
        )
