"""Encryption at rest for the few secrets we must be able to read back (TOTP seeds, credentials)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from finagency.settings import Settings


def _fernet(settings: Settings) -> Fernet:
    # A key of its own, derived from the secret key, so that the signing key is never reused as is.
    material = hashlib.sha256(b"finagency-encryption:" + settings.secret().encode()).digest()
    return Fernet(base64.urlsafe_b64encode(material))


def encrypt(settings: Settings, plaintext: str) -> str:
    return _fernet(settings).encrypt(plaintext.encode()).decode()


def decrypt(settings: Settings, ciphertext: str) -> str:
    try:
        return _fernet(settings).decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise ValueError(
            "cannot decrypt: the secret key changed or the value was altered"
        ) from None
