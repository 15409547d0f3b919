"""Global budgets on Kafka: one owner books every cost, every worker learns the decisions.

    costs [1 partition] --budget agent (table "budget": day/month ledgers, degradation)--> budget [1 partition]
    budget --every worker's watcher (no consumer group, reads the whole topic)--> BudgetView in memory

`costs` has one partition so exactly one worker (the one Faust assigns it to) books the day and month
ledgers; costs are booked once by `CostRecord.id` even when a crash makes Kafka redeliver them. Every
decision (80% warning, 95% rules-only, 100% exhausted, degradation level changes) is a record on the
`budget` topic, published before the table row is stored (a crash in between republishes the same
decision id; the view ignores what it has). The watcher in each worker reads the `budget` topic from
the beginning without a consumer group, so every worker knows the current level; the topic holds only
decisions and, while degraded, a tick per worker every 30 s.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import faust
from prometheus_client import Gauge

from agents.budget import BudgetLimits, DegradationState, Ledger, day_key, month_key
from agents.budget_owner import Booked, book_cost, on_tick
from agents.budget_view import BudgetView, parse_budget_record
from aetherius.metrics import REGISTRY
from schemas.audit import CostRecord
from schemas.budget import BudgetDecision, BudgetTick, DegradationDecision
from schemas.settings import Settings
from streams.app import Topics
from streams.pipeline import error_boundary
from streams.record_replay import follow

log = logging.getLogger(__name__)

USAGE = Gauge("aetherius_budget_usage_ratio", "Share of the day's / month's budget spent (budget owner only)",
              ["period"], registry=REGISTRY)
SPENT = Gauge("aetherius_budget_spent_usd", "Dollars booked on the current day / month (budget owner only)",
              ["period"], registry=REGISTRY)
LEVEL = Gauge("aetherius_degradation_level", "Degradation level 0-3 as this worker knows it", registry=REGISTRY)
AI_ALLOWED = Gauge("aetherius_budget_ai_allowed", "1 when new tasks may use the LLM (day and month below 95%)",
                   registry=REGISTRY)
TICK_SECONDS = 30.0
DEGRADATION_KEY = "degradation"


@dataclass
class BudgetOwner:
    """The budget agent's record handling; `table` is the Faust table "budget" (or a dict in tests)."""

    topics: Topics
    table: Any
    limits: BudgetLimits

    def _ledger(self, scope: str, key: str) -> Ledger | None:
        raw = self.table.get(f"{scope}:{key}")
        return Ledger.model_validate(raw) if raw else None

    def _degradation(self) -> DegradationState:
        raw = self.table.get(DEGRADATION_KEY)
        return DegradationState.model_validate(raw) if raw else DegradationState()

    async def on_cost(self, record: CostRecord) -> None:
        booked = book_cost(record, self._ledger("day", day_key(record.at)), self._ledger("month", month_key(record.at)),
                           self._degradation(), self.limits)
        await self._commit(booked)

    async def on_tick(self, tick: BudgetTick) -> None:
        await self._commit(on_tick(tick.at, self._ledger("day", day_key(tick.at)), self._degradation()))

    async def _commit(self, booked: Booked) -> None:
        for decision in booked.decisions:
            log.warning("budget decision: %s", getattr(decision, "message", "") or decision.id)
            await self.topics["budget"].send(key=decision.id.encode(), value=decision.to_bytes())
        for ledger in (booked.day, booked.month):
            if ledger is not None:
                self.table[f"{ledger.scope}:{ledger.key}"] = ledger.model_dump(mode="json")
                period = ledger.scope
                now = datetime.now(timezone.utc)
                if ledger.key == (day_key(now) if period == "day" else month_key(now)):
                    USAGE.labels(period=period).set(ledger.ratio if ledger.spent_usd > 0 else 0.0)
                    SPENT.labels(period=period).set(ledger.spent_usd)
        if booked.degradation != self._degradation():
            self.table[DEGRADATION_KEY] = booked.degradation.model_dump(mode="json")


@dataclass
class BudgetWatcher:
    """This worker's view of the budget topic, kept current by `run()` (one per process)."""

    view: BudgetView = field(default_factory=BudgetView)
    records: int = 0
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)

    def apply(self, raw: bytes) -> None:
        try:
            record = parse_budget_record(raw)
        except ValueError as exc:
            log.warning("ignoring a budget record that does not parse: %s", exc)
            return
        self.view = self.view.apply(record)
        self.records += 1
        self.publish_metrics()

    def publish_metrics(self) -> None:
        LEVEL.set(self.view.degradation.level)
        AI_ALLOWED.set(1 if self.view.admission(datetime.now(timezone.utc)).ai_allowed else 0)

    async def run(self, bootstrap: str, topic: str) -> None:
        """Read `topic` (one partition) from the beginning, forever; reconnect on errors."""
        self.publish_metrics()
        while True:
            try:
                await follow(bootstrap, topic, lambda message: self.apply(message.value), self._after_poll)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep the last view and try again
                log.exception("budget watcher failed; retrying in 2 s")
                await asyncio.sleep(2.0)

    def _after_poll(self, caught_up: bool) -> None:
        if caught_up:
            self.caught_up.set()
        self.publish_metrics()  # the day may have changed without a record


def register_budget(app: faust.App, topics: Topics, settings: Settings) -> BudgetWatcher:
    """The budget agent (runs where Faust assigns the costs partition) and this worker's watcher."""
    table = app.Table("budget", default=None, partitions=1)
    owner = BudgetOwner(topics=topics, table=table, limits=BudgetLimits.from_task_defaults(settings.tasks))
    watcher = BudgetWatcher()

    async def on_record(event: faust.EventT) -> None:
        if event.message.topic == topics["costs"].get_topic_name():
            await owner.on_cost(CostRecord.from_bytes(event.value))
            return
        record = parse_budget_record(event.value)
        if isinstance(record, BudgetTick):
            await owner.on_tick(record)
        # decisions are this agent's own output: nothing to do

    channel = app.topic(topics["costs"].get_topic_name(), topics["budget"].get_topic_name(),
                        key_serializer="raw", value_serializer="raw")
    app.agent(channel, name="aetherius.budget")(error_boundary("budget", topics["deadletter"], on_record))

    @app.task
    async def watch_budget() -> None:
        await watcher.run(settings.kafka.bootstrap, topics["budget"].get_topic_name())

    @app.timer(interval=TICK_SECONDS)
    async def tick() -> None:
        """While degraded, give the owner a chance to recover on a quiet day (no costs, no snapshots)."""
        if watcher.view.degradation.level > 0:
            record = BudgetTick(sender=settings.worker.app_id)
            await topics["budget"].send(key=b"tick", value=record.to_bytes())

    return watcher


__all__ = ["BudgetDecision", "BudgetOwner", "BudgetWatcher", "DegradationDecision", "register_budget"]
