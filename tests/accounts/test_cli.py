"""`finagency create-user`, run as a real process, on a terminal and from a script."""

import os
import pty
import select
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.servers import FINAGENCY, process_env

PASSWORD = "plum-velvet-harbour-73"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = process_env(data_dir=str(tmp_path))
    migrated = subprocess.run(
        [*FINAGENCY, "migrate"], env=environment, capture_output=True, text=True, timeout=60
    )
    assert migrated.returncode == 0, migrated.stderr
    return environment


def _users(tmp_path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(tmp_path / "finagency.db") as connection:
        rows = connection.execute("SELECT email, role, password_hash FROM users").fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def _create(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FINAGENCY, "create-user", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_script_creates_the_first_admin_with_password_stdin(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = _create(
        env,
        "--email",
        "Boss@Example.com",
        "--role",
        "admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    [(email, role, password_hash)] = _users(tmp_path)
    assert (email, role) == ("boss@example.com", "admin")
    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["--email", "x@example.com", "--role", "emperor", "--password-stdin"],
            PASSWORD,
            "emperor",
        ),
        (["--email", "not-an-email", "--role", "admin", "--password-stdin"], PASSWORD, "--email"),
        (
            ["--email", "x@example.com", "--role", "admin", "--password-stdin"],
            "short",
            "at least 12",
        ),
        (["--email", "x@example.com", "--role", "admin"], "", "--password-stdin"),
    ],
)
def test_bad_input_exits_2_and_creates_nobody(
    env: dict[str, str], tmp_path: Path, args: list[str], stdin: str, message: str
) -> None:
    result = _create(env, *args, stdin=stdin + "\n" if stdin else "")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert _users(tmp_path) == []


def test_a_second_user_with_the_same_email_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    args = ["--email", "ed@example.com", "--role", "editor", "--password-stdin"]
    assert _create(env, *args, stdin=PASSWORD + "\n").returncode == 0
    again = _create(
        env,
        "--email",
        "ED@example.com",
        "--role",
        "viewer",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert len(_users(tmp_path)) == 1


def _read_until(fd: int, text: bytes, timeout: float = 30.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 1024)
            except OSError:
                break
    return seen


def test_on_a_terminal_it_asks_twice(env: dict[str, str], tmp_path: Path) -> None:
    main, child = pty.openpty()
    process = subprocess.Popen(
        [*FINAGENCY, "create-user", "--email", "tty@example.com", "--role", "analyst"],
        env=env,
        stdin=child,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    try:
        # Wait for the space getpass writes after it has flushed pending input, or the typed
        # line may be discarded.
        assert b"Password: " in _read_until(main, b"Password: ")
        os.write(main, PASSWORD.encode() + b"\n")
        assert b"confirmation: " in _read_until(main, b"confirmation: ")
        os.write(main, PASSWORD.encode() + b"\n")
        output = _read_until(main, b"Created")
        assert process.wait(30) == 0, output
    finally:
        os.close(main)
        if process.poll() is None:
            process.kill()
    assert PASSWORD.encode() not in output  # the password is not echoed
    assert [(e, r) for e, r, _ in _users(tmp_path)] == [("tty@example.com", "analyst")]
