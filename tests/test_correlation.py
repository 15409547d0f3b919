"""Cross-cluster correlation threshold, window expiry and resolve."""

from streams.correlation import observe_firing, observe_resolved

W = 600.0


def fire(state, cluster, now, fp=None):
    return observe_firing(state, now=now, cluster_id=cluster, fingerprint=fp or f"fp-{cluster}",
                          window_seconds=W, min_clusters=3)


def test_incident_once_at_third_cluster_then_covered():
    s, d1 = fire(None, "c1", 0)
    s, d2 = fire(s, "c2", 1)
    assert d1.new_incident_id is None and d2.new_incident_id is None and d2.clusters_firing == 2
    s, d3 = fire(s, "c3", 2)
    assert d3.new_incident_id and d3.clusters_firing == 3
    s, d4 = fire(s, "c4", 3)
    assert d4.new_incident_id is None and d4.covered_by == d3.new_incident_id


def test_same_cluster_twice_does_not_count_twice():
    s, _ = fire(None, "c1", 0)
    s, _ = fire(s, "c1", 1, fp="other")
    s, d = fire(s, "c2", 2)
    assert d.clusters_firing == 2 and d.new_incident_id is None


def test_members_outside_window_expire():
    s, _ = fire(None, "c1", 0)
    s, _ = fire(s, "c2", 1)
    s, d = fire(s, "c3", W + 0.5)  # c1 is out of the window now
    assert d.clusters_firing == 2 and d.new_incident_id is None


def test_incident_ids_are_deterministic():
    def run():
        s, _ = fire(None, "c1", 0)
        s, _ = fire(s, "c2", 1)
        return fire(s, "c3", 2)[1].new_incident_id
    assert run() == run()


def test_resolve_removes_the_member():
    s, _ = fire(None, "c1", 0)
    s, _ = fire(s, "c2", 1)
    s = observe_resolved(s, now=2, cluster_id="c2", fingerprint="fp-c2", window_seconds=W)
    s, d = fire(s, "c3", 3)
    assert d.clusters_firing == 2 and d.new_incident_id is None


def test_correlation_key_separates_different_resources_and_ignores_the_cluster():
    from schemas.signal import Signal
    from streams.pipeline import correlation_key

    def sig(cluster, pod):
        return Signal(source="alertmanager", fingerprint=f"{cluster}{pod}", cluster_id=cluster, namespace="shop",
                      resource_kind="Pod", resource_name=pod, alertname="KubePodCrashLooping")

    assert correlation_key(sig("a", "cart-1")) == correlation_key(sig("b", "cart-1"))
    assert correlation_key(sig("a", "cart-1")) != correlation_key(sig("a", "accounts-1"))
