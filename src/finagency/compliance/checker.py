"""Run a profile's rules over a text: findings in text order, duplicates merged, counted."""

from __future__ import annotations

from collections.abc import Iterable

from finagency.compliance.findings import CheckContext, Finding, Severity
from finagency.compliance.metrics import COMPLIANCE_FINDINGS
from finagency.compliance.profiles import get_profile


def _zero_series() -> None:
    """Every rule's series exists from the start (at 0), so that dashboards and alerts see a
    rule that never fired as 0, not as missing."""
    from finagency.compliance import factcheck, freshness, rules, similarity

    for rule in [
        *rules.DEFAULT_SEVERITY,
        factcheck.RULE,
        freshness.RULE,
        similarity.NEAR_DUPLICATE,
    ]:
        for severity in Severity:
            COMPLIANCE_FINDINGS.labels(rule=rule, severity=severity.value)


_zero_series()


def check(ctx: CheckContext) -> list[Finding]:
    """All findings of the context's profile, sorted by position (then rule); an unknown
    profile is a ValueError."""
    profile = get_profile(ctx.profile)
    found = [finding for rule in profile.rules for finding in rule(ctx)]
    findings = deduplicated(found)
    for finding in findings:
        COMPLIANCE_FINDINGS.labels(rule=finding.rule, severity=finding.severity.value).inc()
    return findings


def deduplicated(findings: Iterable[Finding]) -> list[Finding]:
    """Findings sorted by (start, end, rule); identical findings (same rule, severity and message)
    whose spans overlap or touch at one point are merged into one covering both spans."""
    merged: list[Finding] = []
    open_by_key: dict[tuple[str, Severity, str], int] = {}
    for finding in sorted(findings, key=lambda f: (f.start, f.end, f.rule, f.severity, f.message)):
        key = (finding.rule, finding.severity, finding.message)
        index = open_by_key.get(key)
        if index is not None and finding.start <= merged[index].end:
            earlier = merged[index]
            if finding.end > earlier.end:
                merged[index] = Finding(*key, earlier.start, finding.end)
            continue
        open_by_key[key] = len(merged)
        merged.append(finding)
    return merged


def blocking(findings: Iterable[Finding]) -> bool:
    """Whether any finding prevents approval (an admin may still override it)."""
    return any(finding.severity is Severity.block for finding in findings)
