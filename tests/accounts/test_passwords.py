from pathlib import Path

import pytest

from finagency.accounts import passwords
from finagency.settings import load_settings
from tests.fixtures.accounts import FAST_HASHING


@pytest.mark.parametrize(
    ("password", "email", "problem"),
    [
        ("short-one", "ed@example.com", "at least 12"),
        ("x" * 257, "ed@example.com", "at most 256"),
        ("ed@example.com", "ED@example.com", "e-mail"),
        ("editor.person", "editor.person@example.com", "e-mail"),
        ("qwerty123456", "ed@example.com", "too common"),
        ("Password1234!", "ed@example.com", "too common"),
        ("ABCABCABCABCABC", "ed@example.com", "too common"),
        ("aaaaaaaaaaaaaaaa", "ed@example.com", "too common"),
    ],
)
def test_the_policy_refuses_weak_passwords(password: str, email: str, problem: str) -> None:
    found = passwords.policy_problem(password, email)
    assert found is not None
    assert problem in found
    assert password not in found


def test_the_policy_accepts_a_long_uncommon_password() -> None:
    assert passwords.policy_problem("plum-velvet-harbour-73", "ed@example.com") is None


def test_the_common_list_ships_with_the_package() -> None:
    common = passwords.common_passwords()
    assert len(common) > 25_000
    assert "password" in common


def test_hashes_are_argon2id_and_verify(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, **FAST_HASHING)
    hashed = passwords.hash_password(settings, "plum-velvet-harbour-73")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(settings, hashed, "plum-velvet-harbour-73")
    assert not passwords.verify_password(settings, hashed, "plum-velvet-harbour-74")
    assert not passwords.verify_password(settings, "!not-a-hash", "anything")


def test_changed_parameters_call_for_a_rehash(tmp_path: Path) -> None:
    old = load_settings(data_dir=tmp_path, **FAST_HASHING)
    new = load_settings(data_dir=tmp_path, **{**FAST_HASHING, "password_hash_time_cost": 2})
    hashed = passwords.hash_password(old, "plum-velvet-harbour-73")
    assert not passwords.needs_rehash(old, hashed)
    assert passwords.needs_rehash(new, hashed)
    assert passwords.verify_password(new, hashed, "plum-velvet-harbour-73")
