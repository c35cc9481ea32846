from finagency.observability.logging import REDACTED, redact_secrets


def test_sensitive_keys_are_redacted_at_any_depth() -> None:
    event = {
        "event": "login",
        "email": "ed@example.com",
        "password": "hunter2hunter2",
        "headers": {"Authorization": "Bearer abc", "Accept": "application/json"},
        "attempts": [{"refresh_token": "r1"}, {"note": "fine"}],
    }
    redacted = redact_secrets(None, "info", dict(event))
    assert redacted["password"] == REDACTED
    assert redacted["headers"] == {"Authorization": REDACTED, "Accept": "application/json"}
    assert redacted["attempts"] == [{"refresh_token": REDACTED}, {"note": "fine"}]
    assert redacted["email"] == "ed@example.com"
