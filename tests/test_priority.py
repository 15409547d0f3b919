"""SRS §5.9.1 priority table, every bump, and the business-impact lookup."""

import pytest

from schemas.signal import Priority
from streams.priority import (PriorityInputs, assign_priority, base_priority, business_impact, bumps,
                              raise_levels)


@pytest.mark.parametrize("severity,impact,expected", [
    ("critical", 8, Priority.P0), ("critical", 10, Priority.P0),
    ("critical", 7, Priority.P1), ("critical", 0, Priority.P1),
    ("warning", 6, Priority.P1), ("info", 6, Priority.P1),
    ("warning", 5, Priority.P2), ("warning", 3, Priority.P2),
    ("warning", 2, Priority.P3), ("info", 5, Priority.P3), ("info", 0, Priority.P3),
])
def test_base_table(severity, impact, expected):
    assert base_priority(severity, impact) is expected


def test_frequency_bump_needs_more_than_three_per_hour():
    base = dict(severity="warning", impact=3)
    assert assign_priority(PriorityInputs(**base, frequency_per_hour=3)) is Priority.P2
    assert assign_priority(PriorityInputs(**base, frequency_per_hour=4)) is Priority.P1


@pytest.mark.parametrize("namespace,expected", [
    ("kube-system", Priority.P1), ("istio-system", Priority.P1), ("default", Priority.P2), ("kube-public", Priority.P2),
])
def test_system_namespace_bump(namespace, expected):
    assert assign_priority(PriorityInputs(severity="warning", impact=3, namespace=namespace)) is expected


def test_cross_cluster_bump_at_three_clusters():
    base = dict(severity="warning", impact=0)
    assert assign_priority(PriorityInputs(**base, clusters_firing=2)) is Priority.P3
    assert assign_priority(PriorityInputs(**base, clusters_firing=3)) is Priority.P2


def test_bumps_add_up_and_stop_at_p0():
    inputs = PriorityInputs(severity="info", impact=0, frequency_per_hour=10, namespace="kube-system",
                            clusters_firing=5)
    assert bumps(inputs) == ["frequency", "system_namespace", "cross_cluster"]
    assert assign_priority(inputs) is Priority.P0
    assert raise_levels(Priority.P1, 3) is Priority.P0
    assert raise_levels(Priority.P2, 0) is Priority.P2


def test_business_impact_most_specific_wins_and_is_clamped():
    scores = {"payments": 7, "payments/checkout": 9, "huge": 42}
    assert business_impact(scores, "payments", "checkout", 5) == 9
    assert business_impact(scores, "payments", "other", 5) == 7
    assert business_impact(scores, "shop", "", 5) == 5
    assert business_impact(scores, "huge", "", 5) == 10
