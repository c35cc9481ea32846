"""Security metrics; alerts on failed logins, lockouts and token reuse watch these."""

from prometheus_client import Counter

REGISTRATIONS = Counter("finagency_user_registrations_total", "Users registered or created.")
LOGINS = Counter(
    "finagency_logins_total",
    "Login attempts by result (success, failure, locked, blocked).",
    ["result"],
)
LOCKOUTS = Counter("finagency_account_lockouts_total", "Accounts locked after repeated failures.")
AUTH_FAILURES = Counter(
    "finagency_auth_failures_total",
    "Refused credentials by reason (missing, bad_token, expired, revoked, forbidden, token_reuse, "
    "bad_api_key, csrf).",
    ["reason"],
)
