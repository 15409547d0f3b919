"""The composition root: which parts run in which role. The only module that knows them all."""

from __future__ import annotations

import logging

import faust

from agents.tools.types import ToolExecutor
from schemas.audit import AuditEvent
from schemas.settings import Settings
from streams.app import Topics
from streams.pipeline import Pipeline
from streams.worker import Extension

log = logging.getLogger(__name__)


def tool_executor(settings: Settings, readers, audit_sink) -> ToolExecutor:
    """The MCP gateway in process for clusters read here; a remote gateway for clusters configured so."""
    from agents.gateway import GatewayExecutor
    from agents.gateway.inprocess import in_process_executor
    from agents.tools.router import RoutedExecutor

    g = settings.gateway
    local = in_process_executor(readers, settings=g, audit_sink=audit_sink)
    token = g.token.get_secret_value() if g.token else None
    remote = {cluster: GatewayExecutor(url, token=token, timeout_seconds=g.call_timeout_seconds)
              for cluster, url in g.remote.items()}
    return RoutedExecutor(local, remote) if remote else local


def knowledge_audit(topics: Topics):
    """Knowledge-base versions as audit events, one per changed entry (`knowledge.<op>`): the shape the
    ClickHouse sink turns into knowledge_changes rows."""
    audit = topics.audit_sink()

    async def on_change(record) -> None:  # noqa: ANN001 - agents.knowledge.versioning.KnowledgeVersionRecord
        for change in record.changes:
            await audit(AuditEvent(
                actor=record.actor or "knowledge", action=f"knowledge.{change.op}", resource=f"knowledge/{change.entry_id}",
                reason=record.reason or record.action,
                details={"entry_id": change.entry_id, "version": record.version, "title": change.title,
                         "confidence_before": change.confidence_before, "confidence_after": change.confidence_after,
                         "enabled": change.enabled_after}))

    return on_change


class WorkerKnowledge:
    """The embedded knowledge base, owned by this worker (one owner per path): retrieval for the step loop,
    the feedback loop, and the KB/feedback HTTP routes. Absent when another process owns the path."""

    def __init__(self, settings: Settings, topics: Topics) -> None:
        from agents.knowledge.engines import StoreBusy
        from agents.knowledge.factory import open_knowledge_base

        self.settings = settings
        api_url = f"http://{settings.worker.host}:{settings.worker.port}"
        try:
            self.kb = open_knowledge_base(settings.knowledge, on_change=knowledge_audit(topics), api_url=api_url)
        except StoreBusy as exc:
            log.warning("knowledge base not opened here (%s): diagnoses run without knowledge", exc)
            self.kb = None

    async def lookup(self, task):  # noqa: ANN001, ANN201 - the step loop's KnowledgeLookup
        from agents.knowledge.retrieval import best_score, query_text, retrieve

        if self.kb is None:
            return 0.0, []
        ctx = task.context
        hits = await retrieve(self.kb, query_text(ctx.alertname, ctx.annotations.get("summary", ""), ctx.labels),
                              cluster_id=task.cluster_id)
        return best_score(hits), [h.entry for h in hits]

    async def for_category(self, task, category: str):  # noqa: ANN001, ANN201 - the step loop's knowledge_for_category
        """The entries about `category` closest to the alert: for a report whose cause the alert's lookup missed."""
        from agents.knowledge.retrieval import for_category, query_text

        if self.kb is None:
            return []
        ctx = task.context
        text = f"{category.replace('_', ' ')} {query_text(ctx.alertname, ctx.annotations.get('summary', ''), ctx.labels)}"
        return await for_category(self.kb, text, category, cluster_id=task.cluster_id)

    def add_routes(self, web_app, topics: Topics, pipe: Pipeline) -> None:  # noqa: ANN001
        """The knowledge base's API (for `aetherius kb` while this worker owns the store), the feedback API,
        and Slack's interactivity endpoint (its own signature check; a public path) on the worker's app."""
        from agents.knowledge.api import add_kb_routes
        from agents.knowledge.feedback_api import add_feedback_route
        from sinks.slack import add_slack_routes

        if web_app is None:
            return
        feedback = topics["feedback"]

        async def publish(fb) -> None:  # noqa: ANN001 - schemas.feedback.UserFeedback
            await feedback.send(key=fb.task_id.encode(), value=fb.to_bytes())

        async def task_exists(task_id: str) -> bool:
            return pipe.tasks_table.get(task_id) is not None

        if self.kb is not None:
            add_kb_routes(web_app, self.kb)
        add_feedback_route(web_app, publish, task_exists)
        secret = self.settings.sinks.slack_signing_secret
        if secret is not None:
            add_slack_routes(web_app, secret.get_secret_value(), publish)

    def register_feedback(self, app: faust.App, runtime_table) -> None:  # noqa: ANN001
        """The feedback topic -> SRS §5.9.5 rules -> the knowledge base. The report and the knowledge a task
        used are in its runtime row (same key, same partition as the feedback record)."""
        from agents.knowledge import feedback_agent
        from agents.knowledge.feedback import FeedbackApplier, FileFeedbackLedger, ledger_path
        from agents.runtime import TaskRuntime

        if self.kb is None:
            return
        applier = FeedbackApplier(self.kb, FileFeedbackLedger(ledger_path(self.settings.knowledge.path)),
                                  similar_threshold=self.settings.knowledge.similar_case_threshold)

        async def lookup(task_id: str):  # noqa: ANN202
            raw = runtime_table.get(task_id)
            if not raw:
                return None
            rt = TaskRuntime.model_validate(raw)
            return (rt.report, [e.id for e in rt.knowledge]) if rt.report is not None else None

        feedback_agent.register(app, self.settings, applier=applier, lookup=lookup)


def availability_notifier(topics: Topics):
    """A cluster marked unavailable or found again is an audit event (and the notification hook)."""
    audit = topics.audit_sink()

    async def notify(cluster_id: str, transition: str, error: str) -> None:
        down = transition == "marked_unavailable"
        log.warning("cluster %s %s %s", cluster_id, "is unavailable:" if down else "is reachable again", error,
                    extra={"cluster_id": cluster_id})
        await audit(AuditEvent(actor="availability", action="cluster.unavailable" if down else "cluster.reactivated",
                               resource=f"cluster/{cluster_id}", cluster_id=cluster_id,
                               result="error" if down else "ok", reason=error))

    return notify


def step_loop_extension(settings: Settings) -> Extension:
    def extend(app: faust.App, topics: Topics, settings: Settings, pipe: Pipeline) -> None:
        from aetherius.readers import cluster_readers
        from agents.budget_agent import register_budget
        from agents.clusters.availability import AvailabilityTracker
        from agents.engine import RulesEngine, build_llm_engine
        from agents.steploop import register_step_loop
        from agents.tools.registry import load_registry
        from streams.worker import worker_web_app

        tracker = AvailabilityTracker()
        notify = availability_notifier(topics)
        readers = cluster_readers(settings, tracker, notify)
        executor = tool_executor(settings, readers, topics.audit_sink())
        budget = register_budget(app, topics, settings)  # costs -> day/month ledgers -> budget decisions
        llm = build_llm_engine(settings, load_registry(settings.gateway.registry_file))  # None: rules only
        knowledge = WorkerKnowledge(settings, topics)
        loop = register_step_loop(app, topics, settings, pipe, engine=RulesEngine(), executor=executor, llm=llm,
                                  budget=budget, knowledge_lookup=knowledge.lookup if knowledge.kb else None,
                                  knowledge_for_category=knowledge.for_category if knowledge.kb else None)
        knowledge.register_feedback(app, loop.table)
        knowledge.add_routes(worker_web_app(app), topics, pipe)

        @app.timer(interval=5.0)
        async def reprobe_clusters() -> None:  # unavailable clusters are probed every 30 s (the policy)
            from agents.clusters.guard import reprobe

            try:
                await reprobe(tracker, readers.raw, notify)
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.error("cluster re-probe failed: %s", exc)

        @app.task
        async def connect_clusters() -> None:
            try:
                await readers.connect_live()
            except Exception as exc:  # noqa: BLE001 - an unreachable cluster fails its own tasks only
                log.error("could not connect to a cluster: %s", exc)

    return extend


SLACK_INTERACTIVITY = "/api/v1/slack/interactivity"


def worker_extensions(settings: Settings) -> tuple[Extension, ...]:
    if settings.sinks.slack_signing_secret is not None and SLACK_INTERACTIVITY not in settings.security.public_paths:
        # Slack cannot send our credentials: its requests are authenticated by their signature instead.
        settings.security.public_paths.append(SLACK_INTERACTIVITY)
    return (step_loop_extension(settings),) if settings.worker.step_loop else ()


def run_sink(settings: Settings) -> int:
    """The sink role: reports to Slack/Teams/webhooks, security events to the SOC, every history topic to
    ClickHouse, and the analytics API. In the embedded default this process is the one owner of the chdb data
    dir (see sinks/clickhouse/README.md): everything else asks its API."""
    import asyncio

    from aiohttp import web

    from aetherius.http.auth import security_middlewares
    from aetherius.http.health import add_health_routes
    from aetherius.http.openapi import add_openapi_route
    from aetherius.http.server import attach_http_server
    from aetherius.http.suspensions import follow_suspensions
    from aetherius.logging import setup_logging
    from sinks.clickhouse.api import add_routes
    from sinks.clickhouse.sink import open_analytics, register as register_clickhouse
    from sinks.routing import register as register_reports
    from sinks.security_alerts import register as register_security_alerts
    from streams.admin import ensure_topics
    from streams.app import create_app
    from streams.worker import liveness_monitor, run_faust

    setup_logging(settings.log_level)
    asyncio.run(ensure_topics(settings.kafka))
    role = settings.model_copy(update={"worker": settings.worker.model_copy(
        update={"app_id": f"{settings.worker.app_id}-sink"})})
    app, topics = create_app(role, web=False)
    store = open_analytics(settings)
    register_clickhouse(app, settings, store)
    register_reports(app, settings)
    register_security_alerts(app, role, topics)  # its own consumer group: "<app_id>-sink-security-alerts"

    web_app = web.Application(middlewares=security_middlewares(settings.security, topics.audit_sink(), settings.webhook),
                              client_max_size=1024 * 1024)
    follow_suspensions(web_app, settings.kafka.bootstrap, settings.kafka.topic_prefix)
    add_routes(web_app, store, settings)
    monitor = liveness_monitor(app, role)
    add_health_routes(web_app, ready=lambda: app.consumer is not None and bool(app.consumer.assignment()),
                      live=monitor.live)
    add_openapi_route(web_app)
    attach_http_server(app, web_app, settings.analytics.api_host, settings.analytics.api_port, settings.security.tls)
    return run_faust(app, settings)


def run_console(settings: Settings) -> int:
    """The console role: the web UI for people (sinks/console). It follows the task, step, report and incident
    topics for its live view and asks the worker and the sink with each signed-in person's own credential."""
    import asyncio

    from aiohttp import web

    from aetherius.http.suspensions import follow_suspensions
    from aetherius.http.tls import ssl_context_from
    from aetherius.logging import setup_logging
    from sinks.console.app import create_console_app
    from sinks.console.audit import KafkaAudit
    from sinks.console.board import Board
    from sinks.console.follower import Follower

    setup_logging(settings.log_level)
    k = settings.kafka
    board = Board(max_tasks=settings.console.max_tasks)
    audit = KafkaAudit(k.bootstrap, k.topic_prefix)
    web_app, _ = create_console_app(settings, board, Follower(board, k.bootstrap, k.topic_prefix), audit)

    async def producer(_app: web.Application):  # noqa: ANN202 - aiohttp cleanup context
        await audit.start()
        yield
        await audit.stop()

    web_app.cleanup_ctx.insert(0, producer)
    follow_suspensions(web_app, k.bootstrap, k.topic_prefix)
    c = settings.console
    log.info("console on %s://%s:%s/ui/", "https" if settings.security.tls.enabled else "http", c.host, c.port)
    web.run_app(web_app, host=c.host, port=c.port, ssl_context=ssl_context_from(settings.security.tls),
                access_log=None, shutdown_timeout=5, print=None, loop=asyncio.new_event_loop())
    return 0
