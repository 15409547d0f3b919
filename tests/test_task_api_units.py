"""The Task API's pure decisions (filters, merging, owner lookup, forwarded headers) and the HTTP plumbing under
it: `HttpServer` inside a running mode service (first to start, last to stop, port released), TLS with the
configured cert, and worker-to-worker TLS verification with the same cert. Real sockets, no Kafka."""

from __future__ import annotations

import asyncio
import socket
import ssl

import aiohttp
import pytest
from aiohttp import web
from mode import Service

from aetherius.http.server import HttpServer, attach_http_server
from aetherius.http.tls import TLSConfigError
from aetherius.localkafka import free_port
from schemas.security_settings import TLSSettings
from schemas.settings import Settings
from streams.app import advertised_host, worker_url
from streams.task_api import (FORWARDED_HEADER, FilterError, forward_headers, matches, merge_listings,
                              owner_of_partition, parse_filters, peer_ssl_context, same_node)
from tests.test_auth_ratelimit_tls import self_signed


def test_parse_filters_names_the_bad_parameter():
    f = parse_filters({"status": "pending", "priority": "p1", "cluster": "prod", "limit": "5"})
    assert (f["status"].value, f["priority"].value, f["cluster"], f["limit"]) == ("pending", "P1", "prod", 5)
    assert parse_filters({}) == {"limit": 100}
    for query, param in [({"status": "done"}, "status"), ({"priority": "P4"}, "priority"), ({"limit": "-1"}, "limit"),
                         ({"limit": "1001"}, "limit"), ({"limit": "1e3"}, "limit"), ({"cluster": "x" * 300}, "cluster")]:
        with pytest.raises(FilterError, match=f"^{param}:"):
            parse_filters(query)


def test_matches_every_filter():
    task = {"status": "pending", "priority": "P2", "cluster_id": "c1"}
    assert matches(task, parse_filters({"status": "pending", "priority": "P2", "cluster": "c1"}))
    assert not matches(task, parse_filters({"status": "running"}))
    assert not matches(task, parse_filters({"priority": "P1"}))
    assert not matches(task, parse_filters({"cluster": "c2"}))


def test_merge_keeps_the_newest_counts_all_and_drops_duplicates():
    a = [{"id": "a3", "created_at": "2026-01-03"}, {"id": "a1", "created_at": "2026-01-01"}]
    b = [{"id": "b4", "created_at": "2026-01-04"}, {"id": "a3", "created_at": "2026-01-03"}]  # a3 moved (rebalance)
    tasks, count = merge_listings([(a, 7), (b, 5)], limit=2)
    assert [t["id"] for t in tasks] == ["b4", "a3"] and count == 11
    assert merge_listings([([], 0)], limit=10) == ([], 0)


def test_owner_lookup_and_same_node():
    meta = {"http://w1:6066/": {"app-tasks-changelog": [0, 2]}, "http://w2:6066": {"app-tasks-changelog": [1]}}
    assert owner_of_partition(meta, "app-tasks-changelog", 2) == "http://w1:6066"
    assert owner_of_partition(meta, "app-tasks-changelog", 1) == "http://w2:6066"
    assert owner_of_partition(meta, "app-tasks-changelog", 3) is None
    assert owner_of_partition(meta, "other-changelog", 0) is None
    assert same_node("http://w1:6066/", "http://w1:6066") and not same_node("http://w1:6066", "http://w1:6067")


def test_only_the_credential_is_forwarded():
    incoming = {"Authorization": "Bearer t", "X-API-Key": "k", "Cookie": "s=1", "Connection": "close",
                "X-Forwarded-For": "1.2.3.4"}
    assert forward_headers(incoming, "http://me:1") == {"Authorization": "Bearer t", "X-API-Key": "k",
                                                        FORWARDED_HEADER: "http://me:1"}


def test_advertised_url_follows_bind_host_and_tls(tmp_path):
    assert advertised_host("10.1.2.3") == "10.1.2.3"
    assert advertised_host("0.0.0.0") == socket.gethostname()
    cert, key = self_signed(tmp_path)
    assert worker_url(Settings(worker={"host": "127.0.0.1", "port": 7001})) == "http://127.0.0.1:7001"
    assert worker_url(Settings(worker={"host": "127.0.0.1", "port": 7001},
                               security={"tls": {"cert_file": cert, "key_file": key}})) == "https://127.0.0.1:7001"
    assert worker_url(Settings(worker={"host": "::1", "port": 7001})) == "http://[::1]:7001"


def _hello_app() -> web.Application:
    app = web.Application()

    async def hello(_r: web.Request) -> web.Response:
        return web.json_response({"hello": "world"})

    app.router.add_get("/hello", hello)
    return app


async def _get(url: str, ssl_ctx: ssl.SSLContext | bool = True) -> int:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
        async with s.get(url, ssl=ssl_ctx) as resp:
            return resp.status


def test_server_is_first_to_start_last_to_stop_and_releases_its_port():
    """The owner stands for the Faust app, `Consumer` for the services the app adds when it starts (producer,
    consumer, tables, agents): the server must answer before they start and while they stop."""
    port = free_port()
    seen: dict[str, int | str] = {}

    class Consumer(Service):
        async def on_start(self) -> None:
            seen["on_start"] = await _get(f"http://127.0.0.1:{port}/hello")

        async def on_stop(self) -> None:
            seen["on_stop"] = await _get(f"http://127.0.0.1:{port}/hello")

    class Owner(Service):
        def on_init_dependencies(self):  # noqa: ANN201 - how faust.App declares its services
            return [Consumer()]

    async def scenario() -> None:
        owner = Owner()
        server = attach_http_server(owner, _hello_app(), "127.0.0.1", port)
        assert server.scheme == "http"
        await owner.start()
        await owner.stop()
        try:
            await _get(f"http://127.0.0.1:{port}/hello")
            seen["after"] = "still serving"
        except aiohttp.ClientConnectorError:
            seen["after"] = "refused"

    asyncio.run(scenario())
    assert seen == {"on_start": 200, "on_stop": 200, "after": "refused"}


def test_tls_server_and_peer_verification_with_the_same_cert(tmp_path):
    cert, key = self_signed(tmp_path)
    tls = TLSSettings(cert_file=cert, key_file=key)
    port = free_port()

    async def scenario() -> tuple[int, str]:
        owner = Service()
        server = attach_http_server(owner, _hello_app(), "127.0.0.1", port, tls)
        await owner.start()
        try:
            ok = await _get(f"https://127.0.0.1:{port}/hello", peer_ssl_context(tls))  # how workers call each other
            try:
                await _get(f"https://127.0.0.1:{port}/hello", ssl.create_default_context())  # system CAs only
                strict = "accepted"
            except aiohttp.ClientConnectorCertificateError:
                strict = "unverified"
            assert server.scheme == "https"
            return ok, strict
        finally:
            await owner.stop()

    assert asyncio.run(scenario()) == (200, "unverified")
    assert peer_ssl_context(TLSSettings()) is True


def test_bad_tls_files_fail_at_build_and_busy_port_fails_clearly(tmp_path):
    (tmp_path / "bad.crt").write_text("not a cert")
    with pytest.raises(TLSConfigError, match="bad.crt"):
        attach_http_server(Service(), _hello_app(), "127.0.0.1", free_port(),
                           TLSSettings(cert_file=tmp_path / "bad.crt", key_file=tmp_path / "bad.key"))

    async def scenario() -> str:
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        try:
            server = HttpServer(_hello_app(), "127.0.0.1", taken.getsockname()[1])
            with pytest.raises(OSError, match="cannot serve HTTP on 127.0.0.1"):
                await server.on_start()
            return "ok"
        finally:
            taken.close()

    assert asyncio.run(scenario()) == "ok"


def test_extensions_can_serve_marked_routes_from_the_worker():
    """An extension (e.g. the knowledge base the worker owns) adds its routes to the worker's secured app; the
    OpenAPI document of the worker then lists them."""
    from aetherius.http.openapi import document_for_app, route_mismatches
    from aetherius.http.rbac import require
    from streams.worker import build_worker_app, worker_web_app

    def kb_extension(app, _topics, _settings, _pipe) -> None:
        @require("knowledge:read")
        async def versions(_r: web.Request) -> web.Response:
            return web.json_response({})

        worker_web_app(app).router.add_get("/api/v1/kb/versions", versions)

    app, _pipe = build_worker_app(Settings(), extensions=(kb_extension,))
    web_app = worker_web_app(app)
    assert "/api/v1/kb/versions" in document_for_app(web_app)["paths"]
    assert route_mismatches(web_app, "worker") == [
        "GET /api/v1/kb/versions: catalogued for role knowledge, mounted on worker"]
    # Serving both roles, every other knowledge route is now expected on this app too.
    missing = route_mismatches(web_app, ("worker", "knowledge"))
    assert missing and all(p.endswith("catalogued for knowledge but not mounted") for p in missing)
    assert not any("/api/v1/kb/versions" in p for p in missing)
    assert worker_web_app(build_worker_app(Settings(), web=False)[0]) is None
