"""Access tokens (JWT) and opaque secrets (refresh tokens, sessions, API keys, reset links)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from finagency.settings import Settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "role", "jti", "iat", "exp", "iss", "aud"]
# Clock difference tolerated between the API processes that sign and check.
LEEWAY_SECONDS = 5
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidToken(Exception):
    """The token is not one we issued, or no longer valid; `reason` feeds the metrics."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    role: str
    jti: str
    issued_at: datetime
    expires_at: datetime
    # The refresh-token family (the login) this token belongs to: logout ends the whole login.
    session_id: str | None = None


def issue_access_token(
    settings: Settings, user_id: int, role: str, session_id: str | None = None
) -> tuple[str, AccessClaims]:
    # Millisecond precision: a password change revokes tokens issued even a moment before it.
    now = datetime.now(UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    claims = AccessClaims(
        user_id=user_id,
        role=role,
        jti=uuid.uuid4().hex,
        issued_at=now,
        expires_at=now + timedelta(minutes=settings.access_token_minutes),
        session_id=session_id,
    )
    payload = {
        "sub": str(user_id),
        "role": role,
        "jti": claims.jti,
        "iat": round(now.timestamp(), 3),
        "exp": int(claims.expires_at.timestamp()),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    if session_id:
        payload["sid"] = session_id
    return jwt.encode(payload, settings.secret(), algorithm=ALGORITHM), claims


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    try:
        payload = jwt.decode(
            token,
            settings.secret(),
            algorithms=[ALGORITHM],  # never "none", never what the token's header claims
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("expired") from None
    except jwt.PyJWTError:
        raise InvalidToken("bad_token") from None
    now = datetime.now(UTC).timestamp()
    if payload["iat"] > now + LEEWAY_SECONDS:
        raise InvalidToken("bad_token")  # issued in the future: forged or a broken clock
    try:
        user_id = int(payload["sub"])
    except (TypeError, ValueError):
        raise InvalidToken("bad_token") from None
    return AccessClaims(
        user_id=user_id,
        role=str(payload["role"]),
        jti=str(payload["jti"]),
        issued_at=EPOCH + timedelta(milliseconds=round(float(payload["iat"]) * 1000)),
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        session_id=str(payload["sid"]) if payload.get("sid") else None,
    )


def new_secret(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    """What we store of a secret: its SHA-256 (secrets are random; no salt or slowness needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
