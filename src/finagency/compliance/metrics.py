"""Compliance metrics; the content dashboard and the compliance alert watch these."""

from prometheus_client import Counter

COMPLIANCE_FINDINGS = Counter(
    "finagency_compliance_findings_total",
    "Compliance findings by rule and severity (block, warn).",
    ["rule", "severity"],
)
