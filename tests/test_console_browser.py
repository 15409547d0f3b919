"""The web console in a real browser (Debian's chromium, driven by Playwright) against the real roles on the real
broker: `aetherius worker`, `sink`, `webhook` and `console` as processes (tests/consolestack.py).

- A user's night: with one running slot, a task on the slow cluster runs; an alert posted to the bridge appears in
  the open task list without a reload and waits; the running one is stopped from its page (with confirmation) and
  ends `cancelled`; the waiting one then runs on its already open page - steps appear live, then the report with
  its root cause, causal chain and fix; 👍 with a comment is recorded (feedback topic, the worker's audited
  POST /api/v1/feedback, and the sink's stats).
- A developer sees no Stop button; a forged stop (valid session and CSRF token) gets 403 from the console and
  from the worker's API; an auditor filters the audit log to their own sign-in.
- Hostile alert text (`<img onerror>`, `<script>`, `javascript:` URLs in labels and annotations) renders as
  text: no dialog, no request to the attacker's server, no script run.
Each page is saved as a 1280x800 screenshot under docs/screenshots/.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.consolestack import SlowKubeAPI, Stack, browser, chromium_available
from tests.workerproc import TEST_KEYS

pytestmark = [pytest.mark.kafka,
              pytest.mark.skipif(not chromium_available(), reason="chromium missing: apt-get install -y chromium")]
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
VIEW = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def stack(kafka_bootstrap, tmp_path_factory):
    # One running slot, so a second task waits while the first (on the slow cluster) runs.
    st = Stack(kafka_bootstrap, tmp_path_factory.mktemp("console"), slow=SlowKubeAPI().start(),
               extra_env={"AETHERIUS_PIPELINE__TOTAL_LIMIT": "1", "AETHERIUS_PIPELINE__RUNNING_LIMITS":
                          json.dumps({"P1": 1, "P2": 1, "P3": 1})})
    st.start()
    try:
        yield st
    finally:
        st.stop()


@pytest.fixture(scope="module")
def chromium():
    pw, b = browser()
    try:
        yield b
    finally:
        b.close()
        pw.stop()


def sign_in(chromium, stack: Stack, role: str):  # noqa: ANN201 - a Playwright page
    page = chromium.new_page(viewport=VIEW)
    page.goto(stack.console + "/ui/")
    page.wait_for_url("**/ui/login**")
    page.fill("#credential", TEST_KEYS[role])
    page.click("form[action='/ui/login'] button[type=submit]")
    page.wait_for_load_state()
    assert "/ui/login" not in page.url, page.inner_text("main")
    return page


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def task_id_in(page, alertname: str, timeout: float = 30_000) -> str:
    row = page.locator("#task-rows tr", has_text=alertname).first
    row.wait_for(timeout=timeout)
    return (row.get_attribute("id") or "").removeprefix("task-")


def read_topic(stack: Stack, name: str) -> list[dict]:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from schemas.topics import topic_name
    from tests.kafkautil import read_all

    with ThreadPoolExecutor(1) as pool:  # its own thread: Playwright's sync API owns this one's event loop
        records = pool.submit(asyncio.run, read_all(stack.bootstrap, topic_name(stack.prefix, name))).result(60)
    return [json.loads(v) for _k, v in records]


def test_a_users_night(stack, chromium) -> None:
    page = sign_in(chromium, stack, "sre")
    assert page.url.endswith("/ui/tasks")
    page.evaluate("window.__noReload = 1")  # gone if the page reloads

    # A diagnosis on the slow cluster takes the one running slot.
    stack.post_alert({"alertname": "KubePodCrashLooping", "cluster_id": "slow", "namespace": "shop", "pod": "api-0",
                      "severity": "warning"}, {"summary": "api-0 restarts"})
    slow_id = task_id_in(page, "KubePodCrashLooping")
    page.locator(f"#task-{slow_id} .state", has_text="running").wait_for(timeout=30_000)

    # The night's alert: it appears in the open list, without a reload, and waits for the slot.
    posted = time.monotonic()
    stack.post_alert({"alertname": "KubePodNotReady", "cluster_id": "prod-us", "namespace": "shop", "pod": "db-0",
                      "severity": "warning"}, {"summary": "db-0 has not been ready for 15 minutes"})
    night_id = task_id_in(page, "KubePodNotReady")
    seen_after = time.monotonic() - posted
    assert page.evaluate("window.__noReload") == 1, "the list reloaded instead of updating live"
    assert page.locator(f"#task-{night_id} .state").inner_text() == "pending"
    assert page.locator(f"#task-{night_id}").inner_text().count("P2") == 1
    shot(page, "tasks")

    night = chromium.new_page(viewport=VIEW)
    night.context.add_cookies(page.context.cookies())
    night.goto(f"{stack.console}/ui/tasks/{night_id}")
    night.evaluate("window.__noReload = 1")
    assert night.locator("#step-rows tr.step").count() == 0

    # Stop the running one, with confirmation, from its own page.
    page.goto(f"{stack.console}/ui/tasks/{slow_id}")
    page.locator("#step-rows tr.step").first.wait_for(timeout=20_000)
    page.click("[data-testid=stop] summary")
    shot(page, "task-stop-confirm")
    page.click("[data-testid=confirm-stop]")
    page.locator("[data-testid=stop-message]", has_text="Stop requested").wait_for(timeout=30_000)
    page.locator("[data-testid=task-state]", has_text="cancelled").wait_for(timeout=30_000)
    assert "cancelled" in page.inner_text("[data-testid=termination]")
    status, body = stack.api("worker", "GET", f"/api/v1/tasks/{slow_id}")
    assert status == 200 and body["status"] == "cancelled", body

    # The waiting task runs now: on its open page the steps appear live, then the report.
    night.locator("#step-rows tr.step").first.wait_for(timeout=60_000)
    night.locator("[data-testid=root-cause]").wait_for(timeout=90_000)
    assert night.evaluate("window.__noReload") == 1, "the task page reloaded instead of updating live"
    steps = night.locator("#step-rows tr.step").count()
    assert steps >= 2
    assert night.locator("[data-testid=task-state]").inner_text() == "completed"
    assert night.locator("[data-testid=causal-chain] li").count() >= 1
    assert night.locator("[data-testid=fix-command]").count() >= 1
    shot(night, "task-detail")
    night.locator("#report").scroll_into_view_if_needed()
    shot(night, "task-report")
    night.locator("[data-testid=show-output]").first.click()  # the redacted output, on demand
    night.locator("[data-testid=step-output]").first.wait_for(timeout=10_000)
    assert "db-0" in night.inner_text("[data-testid=step-output]")

    # 👍 with a comment, through the worker's feedback API.
    night.fill("#comment", "right on: the claim was pending")
    night.click("[data-testid=thumbs-up]")
    night.locator("[data-testid=feedback-done]").wait_for(timeout=10_000)
    deadline = time.monotonic() + 30
    while True:
        votes = [f for f in read_topic(stack, "feedback") if f["task_id"] == night_id]
        if votes or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [(v["user_id"], v["rating"], v["comments"]) for v in votes] == \
        [("test-sre", 5, "right on: the claim was pending")]
    audited = [e for e in read_topic(stack, "audit") if e["resource"] == "POST /api/v1/feedback"]
    assert [(e["actor"], e["details"]["status"]) for e in audited] == [("test-sre", 202)]

    def stats_votes() -> int:
        return int((stack.api("sink", "GET", "/api/v1/stats")[1].get("feedback") or {}).get("votes") or 0)

    deadline = time.monotonic() + 30
    while stats_votes() < 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert stats_votes() == 1
    print(f"alert POST -> row in the open list: {seen_after:.2f} s; {steps} steps")

    # The other pages, as the SRE sees them.
    page.goto(f"{stack.console}/ui/tasks")
    page.wait_for_selector("#task-rows tr")
    page.goto(f"{stack.console}/ui/costs")
    page.locator("[data-testid=budget-today]").wait_for()
    shot(page, "costs")
    page.goto(f"{stack.console}/ui/knowledge?q=pod+killed+for+memory")
    page.locator("table a").first.click()
    page.locator("[data-testid=entry-confidence]").wait_for()
    shot(page, "knowledge")
    page.close()
    night.close()


def test_incidents_page_shows_members_and_clusters(stack, chromium) -> None:
    page = sign_in(chromium, stack, "admin")
    page.goto(f"{stack.console}/ui/incidents")
    page.evaluate("window.__noReload = 1")
    for cluster in ("prod-eu", "prod-us", "staging"):
        stack.post_alert({"alertname": "KubePodCrashLooping", "cluster_id": cluster, "namespace": "ecommerce",
                          "pod": "payment-service-7d8f9b456-xyz12", "severity": "critical"})
    card = page.locator("article.incident", has_text="KubePodCrashLooping")
    card.wait_for(timeout=60_000)
    assert "3 clusters" in card.inner_text() and page.evaluate("window.__noReload") == 1
    for cluster in ("prod-eu", "prod-us", "staging"):
        assert cluster in card.inner_text()
    card.locator("a").first.wait_for(timeout=30_000)  # its tasks, with links
    shot(page, "incidents")
    page.close()


def test_a_developer_cannot_stop_and_an_auditor_reads_their_own_sign_in(stack, chromium) -> None:
    stack.post_alert({"alertname": "KubePodCrashLooping", "cluster_id": "slow", "namespace": "shop", "pod": "web-1",
                      "severity": "warning"})
    dev = sign_in(chromium, stack, "developer")
    task_id = task_id_in(dev, "web-1")
    nav = dev.inner_text("header nav")
    assert "Tasks" in nav and "Audit" not in nav and "Costs" not in nav  # only what a developer may use
    dev.goto(f"{stack.console}/ui/tasks/{task_id}")
    assert dev.locator("[data-testid=stop]").count() == 0
    assert dev.locator("[data-testid=thumbs-up]").count() in (0, 1)  # feedback is theirs once a report exists
    # A forged stop: a real session and its CSRF token, sent by hand.
    csrf = dev.locator("input[name=csrf]").first.get_attribute("value")  # the sign-out form's: this session's
    forged = dev.request.post(f"{stack.console}/ui/tasks/{task_id}/stop", form={"csrf": csrf},
                              headers={"Origin": stack.console})
    assert forged.status == 403 and forged.json()["permission"] == "tasks:cancel"
    status, body = stack.api("worker", "POST", f"/api/v1/tasks/{task_id}/cancel", key_role="developer")
    assert status == 403 and body["permission"] == "tasks:cancel"
    assert stack.api("worker", "GET", f"/api/v1/tasks/{task_id}")[1]["status"] in ("pending", "running")
    # Without the CSRF token even an SRE's stop is refused.
    sre = sign_in(chromium, stack, "sre")
    no_token = sre.request.post(f"{stack.console}/ui/tasks/{task_id}/stop", form={}, headers={"Origin": stack.console})
    assert no_token.status == 403 and "CSRF" in no_token.json()["reason"]
    dev.goto(f"{stack.console}/ui/audit")
    assert "Not allowed" in dev.inner_text("main")
    dev.close()
    sre.close()

    auditor = sign_in(chromium, stack, "auditor")
    assert auditor.url.endswith("/ui/audit")
    nav = auditor.inner_text("header nav")
    assert "Audit" in nav and "Tasks" not in nav
    auditor.fill("input[name=actor]", "test-auditor")
    auditor.fill("input[name=action]", "console.signin")
    deadline = time.monotonic() + 30
    while True:
        auditor.click("form.filters button[type=submit]")
        auditor.wait_for_load_state()
        rows = auditor.locator("[data-testid=audit-table] tbody tr")
        if rows.count() or time.monotonic() > deadline:
            break
        time.sleep(1)
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert texts and all("test-auditor" in t and "console.signin" in t and "ok" in t for t in texts), texts
    shot(auditor, "audit")
    auditor.goto(f"{stack.console}/ui/audit?start=yesterday")  # a hand-made URL: the API names the parameter
    assert "start: not an RFC 3339 time" in auditor.inner_text("[data-testid=audit-error]")
    auditor.close()


class _Attacker(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        _Attacker.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *_args) -> None:  # noqa: ANN002
        pass


def test_hostile_alert_text_renders_as_text(stack, chromium) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    evil = f"http://127.0.0.1:{server.server_address[1]}"
    img = f"<img src=x onerror=\"fetch('{evil}/onerror');alert(1)\">"
    script = f"<script>fetch('{evil}/script');alert(2)</script>"
    try:
        stack.post_alert(
            {"alertname": f"Xss{img}", "cluster_id": "prod-eu", "namespace": "shop", "pod": "xss-0",
             "severity": "warning", "team": script, "link": f"<a href=\"javascript:fetch('{evil}/a')\">click</a>"},
            {"summary": img + script, "runbook_url": f"javascript:fetch('{evil}/js')",
             "description": f"<svg onload=\"fetch('{evil}/svg')\"></svg><iframe src=\"{evil}/iframe\"></iframe>"})
        page = sign_in(chromium, stack, "sre")
        dialogs: list[str] = []
        requests: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: requests.append(r.url))
        row = page.locator("#task-rows tr", has_text="Xss")
        row.wait_for(timeout=30_000)
        assert "<img src=x onerror=" in row.inner_text()  # shown as the text it is
        row.locator("a").first.click()
        page.wait_for_load_state()
        page.click("details.alert-text summary")
        labels = page.inner_text("[data-testid=labels]")
        annotations = page.inner_text("[data-testid=annotations]")
        assert script in labels and "javascript:fetch(" in annotations and "<svg onload=" in annotations
        assert page.locator("main img, main script, main svg, main iframe, main a[href^=javascript]").count() == 0
        page.wait_for_timeout(1500)
        shot(page, "task-hostile-alert")
        assert dialogs == [] and _Attacker.hits == []
        assert not [u for u in requests if u.startswith(evil)], requests
        headers = page.request.get(f"{stack.console}/ui/tasks").headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        page.close()
    finally:
        server.shutdown()
