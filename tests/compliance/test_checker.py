"""The checker: a profile's rules together, sorted, merged and counted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from finagency.compliance import checker, rules
from finagency.compliance.findings import CheckContext, Finding, Severity
from finagency.compliance.profiles import IN_DISCLAIMER, PROFILE_NAMES, get_profile
from tests.compliance.snapshots import AS_OF, snapshot_view

NOW = AS_OF + timedelta(minutes=10)


def context(text: str, **overrides: Any) -> CheckContext:
    fields: dict[str, Any] = {
        "channel_type": "linkedin",
        "content_type": "market_update",
        "profile": "in",
        "now": NOW,
        "snapshot": snapshot_view(),
    }
    fields.update(overrides)
    return CheckContext(text=text, **fields)


def counted(rule: str, severity: str) -> float:
    value = REGISTRY.get_sample_value(
        "finagency_compliance_findings_total", {"rule": rule, "severity": severity}
    )
    return value or 0.0


def test_a_clean_text_with_its_disclaimer_has_no_findings() -> None:
    text = rules.with_disclaimer(
        "Banks led a quiet session as investors awaited the Fed.", IN_DISCLAIMER
    )
    assert checker.check(context(text)) == []


def test_findings_come_sorted_by_position_and_are_counted() -> None:
    text = "Act now! This sure-shot pick is a strong buy. [Image]"
    before = counted("promissory", "block"), counted("urgency", "warn")
    findings = checker.check(context(text))
    assert [(f.rule, text[f.start : f.end]) for f in findings] == [
        ("urgency", "Act now"),
        ("promissory", "sure-shot"),
        ("advice", "a strong buy"),
        ("placeholders", "[Image]"),
        ("disclaimer", ""),
    ]
    assert checker.blocking(findings)
    assert (counted("promissory", "block"), counted("urgency", "warn")) == (
        before[0] + 1,
        before[1] + 1,
    )


def test_warnings_alone_do_not_block() -> None:
    text = rules.with_disclaimer("Last chance to read our weekly note on banks.", IN_DISCLAIMER)
    findings = checker.check(context(text))
    assert [f.rule for f in findings] == ["urgency"]
    assert not checker.blocking(findings)
    assert not checker.blocking([])


def test_a_registered_adviser_may_give_calls() -> None:
    text = rules.with_disclaimer("Buy HDFCBANK on dips.", IN_DISCLAIMER)
    assert [f.rule for f in checker.check(context(text))] == ["advice"]
    assert checker.check(context(text, registered_adviser=True)) == []


def test_identical_overlapping_findings_are_merged() -> None:
    first = Finding("promissory", Severity.block, "m", 5, 10)
    findings = [
        Finding("promissory", Severity.block, "m", 8, 14),
        first,
        Finding("promissory", Severity.block, "other", 8, 14),
        Finding("advice", Severity.block, "m", 6, 9),
        Finding("promissory", Severity.block, "m", 20, 22),
    ]
    assert checker.deduplicated(findings) == [
        Finding("promissory", Severity.block, "m", 5, 14),
        Finding("advice", Severity.block, "m", 6, 9),
        Finding("promissory", Severity.block, "other", 8, 14),
        Finding("promissory", Severity.block, "m", 20, 22),
    ]


def test_profiles_run_every_rule_and_unknown_profiles_are_refused() -> None:
    for name in PROFILE_NAMES:
        ids = {rule.__name__ for rule in get_profile(name).rules}
        assert set(rules.DEFAULT_SEVERITY) | {"near_duplicate"} <= ids
    with pytest.raises(ValueError, match="Unknown compliance profile 'eu'"):
        checker.check(context("Hello.", profile="eu"))
