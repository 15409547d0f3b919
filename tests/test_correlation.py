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


# -- the earlier members' tasks join the incident (their reports and history rows name it) ------------------

def fire_with_task(state, cluster, now, fp=None):
    return observe_firing(state, now=now, cluster_id=cluster, fingerprint=fp or f"fp-{cluster}",
                          window_seconds=W, min_clusters=3, task_id=f"task-{cluster}")


def test_new_incident_names_the_earlier_members_tasks():
    s, d1 = fire_with_task(None, "c1", 0)
    s, d2 = fire_with_task(s, "c2", 1)
    assert d1.joined == {} and d2.joined == {}
    s, d3 = fire_with_task(s, "c3", 2)
    assert d3.joined == {"c1": "task-c1", "c2": "task-c2"}  # not c3: its signal becomes the incident's task
    s, d4 = fire_with_task(s, "c4", 3)
    assert d4.covered_by and d4.joined == {}  # covered members get no task of their own: nothing to join


def test_a_repeat_of_the_same_member_keeps_its_first_task():
    s, _ = fire_with_task(None, "c1", 0)
    s, _ = observe_firing(s, now=1, cluster_id="c1", fingerprint="fp-c1", window_seconds=W, min_clusters=3,
                          task_id="a-later-window-id")
    assert s.members["c1"].task_id == "task-c1"


def test_members_expired_from_the_window_do_not_join():
    s, _ = fire_with_task(None, "c1", 0)
    s, _ = fire_with_task(s, "c2", W - 10)
    s, d = fire_with_task(s, "c3", W + 1)  # c1 expired: two live clusters, no incident
    assert d.new_incident_id is None
    s, d = fire_with_task(s, "c4", W + 2)
    assert d.new_incident_id and d.joined == {"c2": "task-c2", "c3": "task-c3"}


def test_with_incident_merges_once_and_memberships_are_per_task():
    from schemas.signal import Priority
    from schemas.task import DiagnosticTask
    from streams.correlation import memberships, with_incident

    notes = memberships("inc-1", ["c3", "c1", "c2"], {"c2": "task-c2", "c1": "task-c1"})
    assert [(n.task_id, n.clusters) for n in notes] == [("task-c1", ["c1", "c2", "c3"]), ("task-c2", ["c1", "c2", "c3"])]
    task = DiagnosticTask(id="task-c1", cluster_id="c1", priority=Priority.P0)
    joined = with_incident(task, notes[0])
    assert joined.context.incident_id == "inc-1" and joined.context.clusters == ["c1", "c2", "c3"]
    assert with_incident(joined, notes[1].model_copy(update={"incident_id": "other"})) is joined  # first one stays
    assert with_incident(task, None) is task
