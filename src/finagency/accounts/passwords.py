"""argon2id hashing with transparent rehash, and the password policy."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from finagency.settings import Settings

MIN_LENGTH = 12
MAX_LENGTH = 256
_EDGE_DIGITS_AND_SYMBOLS = re.compile(r"^[\d\W_]+|[\d\W_]+$")


def hasher(settings: Settings) -> PasswordHasher:
    return _hasher(
        settings.password_hash_time_cost,
        settings.password_hash_memory_kib,
        settings.password_hash_parallelism,
    )


@lru_cache
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hash_password(settings: Settings, password: str) -> str:
    return hasher(settings).hash(password)


def verify_password(settings: Settings, password_hash: str, password: str) -> bool:
    """Check a password; an unusable hash (an invited user) costs as much as a real one."""
    try:
        return hasher(settings).verify(password_hash, password)
    except (VerifyMismatchError, VerificationError):
        return False
    except InvalidHashError:
        burn_verification(settings, password)
        return False


# argon2 takes tens of milliseconds of CPU on purpose: never on the event loop.
async def hash_password_async(settings: Settings, password: str) -> str:
    return await anyio.to_thread.run_sync(hash_password, settings, password)


async def verify_password_async(settings: Settings, password_hash: str, password: str) -> bool:
    return await anyio.to_thread.run_sync(verify_password, settings, password_hash, password)


async def burn_verification_async(settings: Settings, password: str) -> None:
    await anyio.to_thread.run_sync(burn_verification, settings, password)


def needs_rehash(settings: Settings, password_hash: str) -> bool:
    return hasher(settings).check_needs_rehash(password_hash)


@lru_cache
def _dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_kib, parallelism).hash("no such account, same cost")


def burn_verification(settings: Settings, password: str) -> None:
    """Spend one verification's time for an unknown account, so timing tells nothing."""
    dummy = _dummy_hash(
        settings.password_hash_time_cost,
        settings.password_hash_memory_kib,
        settings.password_hash_parallelism,
    )
    try:
        hasher(settings).verify(dummy, password)
    except VerificationError:
        pass


@lru_cache
def common_passwords() -> frozenset[str]:
    text = files("finagency.accounts").joinpath("common-passwords.txt").read_text()
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def policy_problem(password: str, email: str) -> str | None:
    """Why this password is refused, or None. Messages never echo the password."""
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password must have at most {MAX_LENGTH} characters"
    lowered = password.lower()
    local_part = email.lower().partition("@")[0]
    if lowered == email.lower() or (len(local_part) >= 4 and lowered == local_part):
        return "the password must not be the e-mail address"
    common = common_passwords()
    core = _EDGE_DIGITS_AND_SYMBOLS.sub("", lowered)
    if lowered in common or (len(core) >= 6 and core in common) or _is_repetition(lowered):
        return "this password is too common; choose a less predictable one"
    return None


def _is_repetition(password: str) -> bool:
    """'abcabcabcabc', 'aaaaaaaaaaaa': a short piece repeated."""
    for size in range(1, len(password) // 2 + 1):
        if len(password) % size == 0 and password[:size] * (len(password) // size) == password:
            return True
    return False
