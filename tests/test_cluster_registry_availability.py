"""Availability per SRS §3.5.2, tested as a state machine with a fake clock, then over real TCP connections:
a dead cluster fails only its own work and is re-activated when it comes back."""

from __future__ import annotations

import asyncio
import socket

import pytest

from agents.clusters.availability import (AvailabilityPolicy, AvailabilityTracker, ClusterHealth, probe_due,
                                          record_failure, record_success)
from agents.clusters.probe import ClusterUnavailable, connect_with_retries, reprobe_once

SRS = AvailabilityPolicy()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_srs_numbers() -> None:
    assert (SRS.attempts, SRS.attempt_timeout_seconds, SRS.reprobe_interval_seconds) == (3, 10.0, 30.0)


def test_pure_transitions() -> None:
    h = ClusterHealth()
    h, t = record_failure(h, 10, "refused", SRS)
    assert (h.state, h.consecutive_failures, t) == ("available", 1, "none")
    h, t = record_success(h, 11)
    assert (h.state, h.consecutive_failures, t) == ("available", 0, "none")  # success resets the count
    for now in (20, 30):
        h, t = record_failure(h, now, "refused", SRS)
        assert t == "none"
    h, t = record_failure(h, 40, "timeout", SRS)
    assert (h.state, t, h.next_probe_at, h.last_error) == ("unavailable", "marked_unavailable", 70, "timeout")
    assert not probe_due(h, 69.9) and probe_due(h, 70)
    h, t = record_failure(h, 70, "still down", SRS)
    assert (h.state, t, h.next_probe_at) == ("unavailable", "none", 100)  # failed re-probe: next in 30 s
    h, t = record_success(h, 100)
    assert (h.state, t, h.consecutive_failures, h.next_probe_at) == ("available", "reactivated", 0, None)


def test_tracker_with_clock() -> None:
    clock = Clock()
    tracker = AvailabilityTracker(clock=clock)
    assert tracker.admits_tasks("a")
    for _ in range(3):
        tracker.failure("a", "refused")
    assert not tracker.admits_tasks("a") and tracker.admits_tasks("b")
    clock.now = 29.0
    assert tracker.due_probes() == []
    clock.now = 30.0
    assert tracker.due_probes() == ["a"]
    assert tracker.success("a") == "reactivated" and tracker.admits_tasks("a") and tracker.due_probes() == []
    tracker.forget("a")
    assert tracker.health("a").consecutive_failures == 0


def free_dead_port() -> int:
    """A port with nothing listening (bound and closed): connecting gets 'connection refused' at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_clusters_one_dead_over_real_tcp() -> None:
    """`attempt` opens a real TCP connection. The dead cluster: 3 tries, marked unavailable, its next task fails at
    once without trying; the live cluster keeps working; when the dead one starts listening, a re-probe re-activates it."""
    dead_port = free_dead_port()
    clock = Clock()
    tracker = AvailabilityTracker(AvailabilityPolicy(attempt_timeout_seconds=2.0), clock=clock)
    transitions: list[tuple[str, str]] = []
    tries = {"live": 0, "dead": 0}

    async def notify(cluster_id: str, transition: str, error: str) -> None:
        transitions.append((cluster_id, transition))

    async def scenario() -> None:
        async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        live = await asyncio.start_server(on_conn, "127.0.0.1", 0)
        ports = {"live": live.sockets[0].getsockname()[1], "dead": dead_port}

        def attempt(cid: str):  # noqa: ANN202
            async def go() -> str:
                tries[cid] += 1
                _, writer = await asyncio.open_connection("127.0.0.1", ports[cid])
                writer.close()
                return f"connected to {cid}"
            return go

        with pytest.raises(ClusterUnavailable, match="cluster dead is unavailable: ConnectionRefusedError"):
            await connect_with_retries("dead", attempt("dead"), tracker, notify)
        assert tries["dead"] == 3 and transitions == [("dead", "marked_unavailable")]
        assert await connect_with_retries("live", attempt("live"), tracker, notify) == "connected to live"
        with pytest.raises(ClusterUnavailable):
            await connect_with_retries("dead", attempt("dead"), tracker, notify)
        assert tries["dead"] == 3  # failed fast: no new connection attempt while unavailable

        async def probe(cid: str) -> None:
            await attempt(cid)()

        assert await reprobe_once(tracker, probe, notify) == {}  # not due yet
        clock.now = 30.0
        assert await reprobe_once(tracker, probe, notify) == {"dead": "none"}  # still down: next in 30 s
        dead = await asyncio.start_server(on_conn, "127.0.0.1", dead_port)  # the cluster comes back
        clock.now = 60.0
        assert await reprobe_once(tracker, probe, notify) == {"dead": "reactivated"}
        assert await connect_with_retries("dead", attempt("dead"), tracker, notify) == "connected to dead"
        for server in (live, dead):
            server.close()
            await server.wait_closed()

    asyncio.run(scenario())
    assert transitions == [("dead", "marked_unavailable"), ("dead", "reactivated")]
    assert tracker.admits_tasks("live") and tracker.health("live").consecutive_failures == 0


def test_attempt_timeout_counts_as_failure() -> None:
    tracker = AvailabilityTracker(AvailabilityPolicy(attempts=2, attempt_timeout_seconds=0.05), clock=Clock())

    async def hang() -> None:
        await asyncio.Event().wait()

    with pytest.raises(ClusterUnavailable, match="connection timed out"):
        asyncio.run(connect_with_retries("slow", hang, tracker))
    assert not tracker.admits_tasks("slow")
