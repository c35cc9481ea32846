"""The compliance settings: edited by admins through the API, kept as versions, read as a Policy."""

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.audit import Actor
from finagency.accounts.models import AuditEvent
from finagency.accounts.permissions import Role
from finagency.compliance import checker, factcheck, freshness, rules, service, similarity
from finagency.compliance.findings import CheckContext
from finagency.compliance.models import ComplianceSettingsVersion
from finagency.compliance.policy import Policy
from finagency.compliance.profiles import IN_DISCLAIMER, PROFILE_NAMES, US_DISCLAIMER, get_profile
from finagency.content.renderings import CHANNEL_TYPES
from finagency.errors import Conflict, FinagencyError
from finagency.settings import Settings, load_settings
from tests.fixtures.accounts import bearer, make_user

SETTINGS = "/api/v1/compliance/settings"
HISTORY = "/api/v1/compliance/settings/history"
RULES = "/api/v1/compliance/rules"
MISSING = object()  # a field left out of the request body
OWN_DISCLAIMER = "Educational content only, not a recommendation to buy or sell securities."


async def _headers(db_session: AsyncSession, settings: Settings, role: Role) -> dict[str, str]:
    return bearer(settings, await make_user(db_session, settings, role))


async def _change(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.patch(
        SETTINGS, json={"reason": "Compliance review", **body}, headers=headers
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# ---------------------------------------------------------------- reading and versions


async def test_before_any_change_the_environment_is_version_0(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    viewer = await _headers(db_session, settings, Role.viewer)
    response = await client.get(SETTINGS, headers=viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == 0
    assert body["default_profile"] == settings.compliance_profile == "us"
    assert body["profile_by_channel"] == {}
    assert body["disclaimers"] == {}
    assert body["extra_banned_phrases"] == []
    assert body["auto_approve_types"] == []
    assert body["registered_adviser"] is False
    assert body["near_duplicate_days"] == 14
    assert body["changed_by"] is None
    assert body["changed_at"] is None
    assert body["reason"] is None
    assert body["effective_profiles"] == {channel: "us" for channel in CHANNEL_TYPES}
    assert body["effective_disclaimers"] == {"us": US_DISCLAIMER, "in": IN_DISCLAIMER}


def test_without_a_stored_version_the_policy_follows_the_environment() -> None:
    policy = service.policy_from(None, load_settings(compliance_profile="in"))
    assert policy == Policy(default_profile="in", version=0)


async def test_each_change_is_a_new_version_listed_in_the_history(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin_user = await make_user(db_session, settings, Role.admin)
    admin = bearer(settings, admin_user)
    first = await _change(client, admin, near_duplicate_days=30, reason="Longer look-back")
    assert first["version"] == 1
    assert first["changed_by"] == admin_user.id
    assert first["changed_by_email"] == admin_user.email
    second = await _change(
        client,
        admin,
        profile_by_channel={"telegram": "in"},
        disclaimers={"in": OWN_DISCLAIMER},
        reason="Telegram audience is in India",
    )
    assert second["version"] == 2
    assert second["near_duplicate_days"] == 30  # copied from version 1
    assert second["effective_profiles"]["telegram"] == "in"
    assert second["effective_profiles"]["x"] == "us"
    assert second["effective_disclaimers"] == {"us": US_DISCLAIMER, "in": OWN_DISCLAIMER}

    current = (await client.get(SETTINGS, headers=admin)).json()
    assert current == second

    history = (await client.get(HISTORY, headers=admin)).json()
    assert [item["version"] for item in history["items"]] == [2, 1]
    assert [item["reason"] for item in history["items"]] == [
        "Telegram audience is in India",
        "Longer look-back",
    ]
    for item in history["items"]:
        assert item["changed_by"] == admin_user.id
        assert item["changed_by_email"] == admin_user.email
        assert item["changed_at"] is not None
    assert history["items"][1]["profile_by_channel"] == {}  # versions keep their own values
    assert history["next_before_version"] is None


async def test_the_history_pages_by_version(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await _headers(db_session, settings, Role.admin)
    for days in (20, 21, 22):
        await _change(client, admin, near_duplicate_days=days)
    page = (await client.get(HISTORY, params={"limit": 2}, headers=admin)).json()
    assert [item["version"] for item in page["items"]] == [3, 2]
    assert page["next_before_version"] == 2
    params = {"limit": 2, "before_version": page["next_before_version"]}
    rest = (await client.get(HISTORY, params=params, headers=admin)).json()
    assert [item["version"] for item in rest["items"]] == [1]
    assert rest["next_before_version"] is None


async def test_maps_merge_by_key_and_null_or_empty_removes_an_override(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await _headers(db_session, settings, Role.admin)
    await _change(
        client, admin, profile_by_channel={"telegram": "in"}, disclaimers={"us": OWN_DISCLAIMER}
    )
    body = await _change(client, admin, profile_by_channel={"x": "in"})
    assert body["profile_by_channel"] == {"telegram": "in", "x": "in"}
    assert body["disclaimers"] == {"us": OWN_DISCLAIMER}
    body = await _change(
        client, admin, profile_by_channel={"telegram": None}, disclaimers={"us": ""}
    )
    assert body["profile_by_channel"] == {"x": "in"}
    assert body["disclaimers"] == {}
    assert body["effective_disclaimers"]["us"] == US_DISCLAIMER  # the built-in one again
    body = await _change(client, admin, disclaimers={"in": f"  {OWN_DISCLAIMER}  "})
    assert body["disclaimers"] == {"in": OWN_DISCLAIMER}
    body = await _change(client, admin, disclaimers={"in": None})
    assert body["effective_disclaimers"]["in"] == IN_DISCLAIMER


async def test_banned_phrases_are_trimmed_and_deduplicated_keeping_the_first_spelling(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await _headers(db_session, settings, Role.admin)
    phrases = ["To the Moon", "  to   the moon ", "rocket ship", "TO THE MOON", "multibagger"]
    body = await _change(client, admin, extra_banned_phrases=phrases)
    assert body["extra_banned_phrases"] == ["To the Moon", "rocket ship", "multibagger"]
    body = await _change(client, admin, auto_approve_types=["educational", "educational"])
    assert body["auto_approve_types"] == ["educational"]
    assert body["extra_banned_phrases"] == ["To the Moon", "rocket ship", "multibagger"]
    body = await _change(client, admin, extra_banned_phrases=[])
    assert body["extra_banned_phrases"] == []


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        ({"reason": MISSING, "near_duplicate_days": 30}, "reason", "Field required"),
        ({"reason": "ok", "near_duplicate_days": 30}, "reason", "5 to 500"),
        ({"reason": "x" * 501, "near_duplicate_days": 30}, "reason", "5 to 500"),
        ({"reason": "Nothing named"}, "body", "name at least one setting"),
        ({"colour": "blue"}, "colour", "Extra inputs are not permitted"),
        ({"default_profile": "eu"}, "default_profile", '"eu" is not one of us, in'),
        ({"default_profile": None}, "default_profile", "null is not one of us, in"),
        ({"profile_by_channel": {"myspace": "us"}}, "profile_by_channel.myspace", "not one of x"),
        ({"profile_by_channel": {"x": "eu"}}, "profile_by_channel.x", '"eu" is not one of'),
        ({"disclaimers": {"eu": OWN_DISCLAIMER}}, "disclaimers.eu", "not one of us, in"),
        ({"disclaimers": {"us": "Not advice."}}, "disclaimers.us", "20 to 1000 characters"),
        ({"disclaimers": {"us": "x" * 1001}}, "disclaimers.us", "20 to 1000 characters"),
        ({"extra_banned_phrases": ["a"]}, "extra_banned_phrases.0", "2 to 100 characters"),
        ({"extra_banned_phrases": ["ok", "y" * 101]}, "extra_banned_phrases.1", "2 to 100"),
        ({"extra_banned_phrases": ["!!!"]}, "extra_banned_phrases.0", "would never match"),
        (
            {"extra_banned_phrases": [f"phrase {n}" for n in range(201)]},
            "extra_banned_phrases",
            "at most 200 phrases",
        ),
        ({"extra_banned_phrases": "to the moon"}, "extra_banned_phrases", "valid list"),
        ({"auto_approve_types": ["memes"]}, "auto_approve_types.0", '"memes" is not one of'),
        ({"near_duplicate_days": 0}, "near_duplicate_days", "from 1 to 365"),
        ({"near_duplicate_days": 366}, "near_duplicate_days", "from 1 to 365"),
        ({"near_duplicate_days": None}, "near_duplicate_days", "from 1 to 365"),
        ({"near_duplicate_days": "14"}, "near_duplicate_days", "valid integer"),
        ({"near_duplicate_days": 14.5}, "near_duplicate_days", "valid integer"),
        ({"registered_adviser": "yes"}, "registered_adviser", "valid boolean"),
        ({"registered_adviser": None}, "registered_adviser", "expected true or false"),
    ],
)
async def test_bad_input_is_a_clear_422_and_changes_nothing(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    body: dict[str, Any],
    where: str,
    message: str,
) -> None:
    admin = await _headers(db_session, settings, Role.admin)
    sent = {
        key: value for key, value in {"reason": "Review", **body}.items() if value is not MISSING
    }
    response = await client.patch(SETTINGS, json=sent, headers=admin)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["detail"].startswith(f"{where}: " if where == "body" else f"body.{where}: ")
    assert message in problem["detail"], problem
    assert (await client.get(SETTINGS, headers=admin)).json()["version"] == 0


async def test_every_problem_of_a_change_is_named(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await _headers(db_session, settings, Role.admin)
    body = {"reason": "Review", "default_profile": "eu", "near_duplicate_days": 0}
    response = await client.patch(SETTINGS, json=body, headers=admin)
    assert response.status_code == 422
    locations = [error["loc"] for error in response.json()["errors"]]
    assert locations == [["body", "default_profile"], ["body", "near_duplicate_days"]]
    assert "(and 1 more)" in response.json()["detail"]


async def test_a_change_that_changes_nothing_is_a_409(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await _headers(db_session, settings, Role.admin)
    response = await client.patch(
        SETTINGS, json={"reason": "Same again", "near_duplicate_days": 14}, headers=admin
    )
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("/no-change")
    assert "already in force (version 0)" in response.json()["detail"]
    await _change(client, admin, extra_banned_phrases=["to the moon"])
    response = await client.patch(
        SETTINGS,
        json={"reason": "Same again", "extra_banned_phrases": [" to the moon", "To The Moon"]},
        headers=admin,
    )
    assert response.status_code == 409, response.text
    assert "version 1" in response.json()["detail"]


async def test_a_concurrent_change_is_a_409_not_a_lost_update(
    db_session: AsyncSession, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await service.update(db_session, settings, Actor(), {"near_duplicate_days": 20}, "First one")

    async def stale(session: AsyncSession) -> None:  # what a second admin read before the first
        return None

    monkeypatch.setattr(service, "newest", stale)
    with pytest.raises(Conflict, match="changed while"):
        await service.update(db_session, settings, Actor(), {"near_duplicate_days": 30}, "Second")
    monkeypatch.undo()
    assert (await service.current(db_session, settings)).near_duplicate_days == 20


async def test_the_service_refuses_bad_input_from_any_caller(
    db_session: AsyncSession, settings: Settings
) -> None:
    with pytest.raises(FinagencyError, match="reason: say why") as caught:
        await service.update(db_session, settings, Actor(), {"registered_adviser": True}, None)
    assert caught.value.status_code == 422
    with pytest.raises(FinagencyError, match="expected a list of phrases"):
        await service.update(db_session, settings, Actor(), {"extra_banned_phrases": 7}, "Typed")
    with pytest.raises(FinagencyError, match="unknown setting"):
        await service.update(db_session, settings, Actor(), {"profile": "us"}, "Unknown one")


# ---------------------------------------------------------------- who may do what


async def test_only_admins_change_the_settings_and_everyone_reads_them(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    body = {"reason": "I would like this", "registered_adviser": True}
    for role in (Role.analyst, Role.editor):
        headers = await _headers(db_session, settings, role)
        response = await client.patch(SETTINGS, json=body, headers=headers)
        assert response.status_code == 403, response.text
        assert (await client.get(HISTORY, headers=headers)).status_code == 403
    viewer = await _headers(db_session, settings, Role.viewer)
    assert (await client.get(SETTINGS, headers=viewer)).status_code == 200
    assert (await client.get(RULES, headers=viewer)).status_code == 200
    assert (await client.patch(SETTINGS, json=body, headers=viewer)).status_code == 403
    assert (await client.get(SETTINGS, headers=viewer)).json()["registered_adviser"] is False


async def test_each_change_is_in_the_audit_log_with_what_changed(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin_user = await make_user(db_session, settings, Role.admin)
    admin = bearer(settings, admin_user)
    await _change(client, admin, extra_banned_phrases=["to the moon"], reason="New slang")
    await _change(
        client,
        admin,
        near_duplicate_days=30,
        registered_adviser=True,
        extra_banned_phrases=["rocket ship"],
        disclaimers={"in": OWN_DISCLAIMER},
        reason="Now SEBI registered",
    )
    events = list(
        await db_session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == service.AUDIT_ACTION)
            .order_by(AuditEvent.id)
        )
    )
    assert [event.target_id for event in events] == ["1", "2"]
    last = events[-1]
    assert last.actor_id == admin_user.id
    assert last.actor_email == admin_user.email
    assert last.target_type == "compliance_settings"
    assert last.detail["version"] == 2
    assert last.detail["reason"] == "Now SEBI registered"
    assert last.detail["changed"] == [
        "disclaimers",
        "extra_banned_phrases",
        "registered_adviser",
        "near_duplicate_days",
    ]
    changes = last.detail["changes"]
    assert changes["near_duplicate_days"] == {"old": 14, "new": 30}
    assert changes["registered_adviser"] == {"old": False, "new": True}
    assert changes["extra_banned_phrases"] == {"added": ["rocket ship"], "removed": ["to the moon"]}
    assert changes["disclaimers"] == {"set": {"in": OWN_DISCLAIMER}, "removed": []}


# ---------------------------------------------------------------- the table keeps every version


async def test_the_database_refuses_to_rewrite_or_remove_a_version(
    db_session: AsyncSession, settings: Settings
) -> None:
    await service.update(db_session, settings, Actor(), {"registered_adviser": True}, "Registered")
    await db_session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        async with db_session.begin_nested():
            await db_session.execute(
                update(ComplianceSettingsVersion).values(registered_adviser=False)
            )
    with pytest.raises(DBAPIError, match="append-only"):
        async with db_session.begin_nested():
            await db_session.execute(delete(ComplianceSettingsVersion))
    count = select(func.count()).select_from(ComplianceSettingsVersion)
    assert await db_session.scalar(count) == 1
    db_session.expire_all()
    assert (await service.current(db_session, settings)).registered_adviser is True


# ---------------------------------------------------------------- the policy the checker reads


async def test_workers_read_the_same_policy(db_session: AsyncSession, settings: Settings) -> None:
    changes = {"default_profile": "in", "auto_approve_types": ["educational"]}
    await service.update(db_session, settings, Actor(), changes, "India first")
    policy = await service.current(db_session, settings)
    synced = await db_session.run_sync(lambda session: service.current_sync(session, settings))
    assert synced == policy
    assert policy.version == 1
    assert policy.auto_approve_types == ("educational",)


async def test_the_policy_reflects_the_stored_profiles_and_disclaimers(
    db_session: AsyncSession, settings: Settings
) -> None:
    changes = {"profile_by_channel": {"telegram": "in"}, "disclaimers": {"in": OWN_DISCLAIMER}}
    await service.update(db_session, settings, Actor(), changes, "Telegram is Indian")
    policy = await service.current(db_session, settings)
    assert policy.profile_for("telegram") == "in"
    assert policy.profile_for("x") == "us"
    assert policy.disclaimer_for("in") == OWN_DISCLAIMER
    assert policy.disclaimer_for("us") == US_DISCLAIMER
    assert policy.profiles_for(["x", "telegram"]) == ["us", "in"]


def _context(policy: Policy, text: str) -> CheckContext:
    profile = policy.profile_for("linkedin")
    return CheckContext(
        text=f"{text}\n\n{policy.disclaimer_for(profile)}",
        channel_type="linkedin",
        content_type="educational",
        profile=profile,
        now=datetime(2026, 11, 25, 12, tzinfo=UTC),
        registered_adviser=policy.registered_adviser,
        disclaimer=policy.disclaimer_for(profile),
        extra_banned_phrases=policy.extra_banned_phrases,
    )


def _rules_found(policy: Policy, text: str) -> set[str]:
    return {finding.rule for finding in checker.check(_context(policy, text))}


async def test_stored_settings_change_what_the_checker_finds(
    db_session: AsyncSession, settings: Settings
) -> None:
    moon = "Some say this small cap is going to the moon."
    call = "Buy Reliance on every dip."
    before = await service.current(db_session, settings)
    assert rules.PROMISSORY not in _rules_found(before, moon)
    assert rules.ADVICE in _rules_found(before, call)

    changes = {"extra_banned_phrases": ["to the moon"], "registered_adviser": True}
    await service.update(db_session, settings, Actor(), changes, "Registered adviser now")
    after = await service.current(db_session, settings)
    findings = checker.check(_context(after, moon))
    assert [f.message for f in findings if f.rule == rules.PROMISSORY] == [
        "Promissory or guaranteed-return language: 'to the moon'"
    ]
    assert rules.ADVICE not in _rules_found(after, call)
    assert rules.DISCLAIMER not in _rules_found(after, call)


# ---------------------------------------------------------------- what is checked


async def test_the_rules_and_profiles_are_listed(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    analyst = await _headers(db_session, settings, Role.analyst)
    response = await client.get(RULES, headers=analyst)
    assert response.status_code == 200, response.text
    body = response.json()
    listed = {rule["id"]: rule for rule in body["rules"]}
    expected = {**rules.DEFAULT_SEVERITY, factcheck.RULE: "block", freshness.RULE: "block"}
    expected[similarity.NEAR_DUPLICATE] = similarity.SEVERITY
    assert {rule: entry["severity"] for rule, entry in listed.items()} == expected
    assert all(entry["description"] for entry in listed.values())
    profiles = {profile["name"]: profile for profile in body["profiles"]}
    assert profiles["us"]["disclaimer"] == US_DISCLAIMER
    assert profiles["in"]["disclaimer"] == IN_DISCLAIMER
    assert "SEBI" in profiles["in"]["title"]
    assert "FINRA" in profiles["us"]["title"]


def test_every_rule_the_checker_runs_is_described() -> None:
    # A rule added to the profiles without a description here would go unlisted.
    for name in PROFILE_NAMES:
        assert len(get_profile(name).rules) == len(service.rule_catalog())
