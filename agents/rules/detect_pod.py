"""Rules about one pod: its scheduling, its node, its volumes and each container (init, app, sidecar)."""

from __future__ import annotations

import re

from agents.rules import k8s
from agents.rules.facts import Facts
from agents.rules.finding import Finding, ev
from agents.rules.fixes import owner_of, rec, template_patch
from schemas.result import ProblemCategory as C, RiskLevel

LIVENESS_EVENT = re.compile(r"liveness probe", re.I)
READINESS_EVENT = re.compile(r"readiness probe failed", re.I)
PULL_WAITING = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
START_REASONS = ("StartError", "RunContainerError", "ContainerCannotRun", "CreateContainerError")


def pod_findings(facts: Facts, pod: k8s.Obj) -> list[Finding]:
    ns, name = k8s.meta(pod, "namespace") or "default", k8s.name_of(pod)
    src = f"pod/{ns}/{name}"
    events = k8s.recent(k8s.events_for(facts.events, "Pod", name, ns), facts.now)
    findings: list[Finding] = []
    findings += _eviction(facts, pod, src)
    findings += _node(facts, pod, src)
    findings += _unscheduled(facts, pod, src, events)
    findings += _mount(facts, pod, src, events)
    for c in k8s.containers(pod):
        findings += _container(facts, pod, src, c, events)
    return findings


def _eviction(facts: Facts, pod: k8s.Obj, src: str) -> list[Finding]:
    status = pod.get("status") or {}
    if status.get("reason") != "Evicted":
        return []
    ns, node_name = k8s.meta(pod, "namespace"), (pod.get("spec") or {}).get("nodeName", "")
    evidence = [ev(f"{src}/status.reason", f"phase={status.get('phase')} reason=Evicted: {status.get('message', '')}")]
    node = facts.nodes.get(node_name)
    pressures = [c for c in ((node or {}).get("status") or {}).get("conditions") or []
                 if c.get("type", "").endswith("Pressure") and c.get("status") == "True"]
    for c in pressures:
        evidence.append(ev(f"node/{node_name}/status.conditions[{c['type']}]", f"{c['type']}=True: {c.get('message', '')}"))
    resource = re.search(r"low on resource: (\w+)", status.get("message", ""))
    what = resource.group(1) if resource else "a resource"
    owner = owner_of(facts, pod)
    recs = [rec("See the node's pressure and the top consumers", f"kubectl describe node {node_name}"),
            rec("Set requests that match real usage so the pod is not the first evicted",
                f"kubectl -n {ns} set resources {owner} --requests={'memory' if what == 'memory' else 'ephemeral-storage'}=<observed usage>",
                RiskLevel.MEDIUM, priority=2),
            rec("Remove the evicted pod objects once the cause is fixed",
                f"kubectl -n {ns} delete pod {k8s.name_of(pod)}", RiskLevel.LOW, priority=3)]
    return [Finding(C.NODE_PRESSURE_EVICTION, 0.95 if pressures else 0.9,
                    f"Pod {ns}/{k8s.name_of(pod)} was evicted by the kubelet of node {node_name or '?'} "
                    f"because the node was low on {what}.", evidence, recs)]


def _node(facts: Facts, pod: k8s.Obj, src: str) -> list[Finding]:
    node_name = (pod.get("spec") or {}).get("nodeName")
    node = facts.nodes.get(node_name or "")
    ready = k8s.condition(node, "Ready")
    if not node or ready is None or ready.get("status") == "True":
        return []
    from agents.rules.detect_infra import node_not_ready_recs

    ns = k8s.meta(pod, "namespace")
    evidence = [ev(f"node/{node_name}/status.conditions[Ready]",
                   f"Ready={ready.get('status')} reason={ready.get('reason', '')}: {ready.get('message', '')}"),
                ev(f"{src}/spec.nodeName", f"pod runs on {node_name}")]
    pod_ready = k8s.condition(pod, "Ready")
    if pod_ready:
        evidence.append(ev(f"{src}/status.conditions[Ready]", f"Ready={pod_ready.get('status')} {pod_ready.get('reason', '')}"))
    return [Finding(C.NODE_NOT_READY, 0.9,
                    f"Node {node_name}, where pod {ns}/{k8s.name_of(pod)} runs, is NotReady "
                    f"({ready.get('reason') or ready.get('status')}); its pods cannot run or report.",
                    evidence, node_not_ready_recs(node_name))]


def _unscheduled(facts: Facts, pod: k8s.Obj, src: str, events: list[k8s.Obj]) -> list[Finding]:
    from agents.rules.detect_infra import pvc_findings, scheduling_findings

    spec = pod.get("spec") or {}
    scheduled = k8s.condition(pod, "PodScheduled")
    if spec.get("nodeName") or (scheduled and scheduled.get("status") == "True") or k8s.pod_phase(pod) != "Pending":
        return []
    ns = k8s.meta(pod, "namespace") or "default"
    findings: list[Finding] = []
    for claim in k8s.pvc_names(pod):
        findings += pvc_findings(facts, ns, claim, via=f"{src}/spec.volumes")
    failed = [e for e in events if e.get("reason") == "FailedScheduling"]
    if failed:
        findings += scheduling_findings(facts, pod, src, failed[-1], bool(findings))
    elif scheduled is not None and scheduled.get("message"):
        findings += scheduling_findings(facts, pod, src, {"reason": "FailedScheduling",
                                                          "message": scheduled.get("message", ""),
                                                          "involvedObject": {"kind": "Pod", "name": k8s.name_of(pod),
                                                                             "namespace": ns}}, bool(findings),
                                        source=f"{src}/status.conditions[PodScheduled]")
    return findings


def _mount(facts: Facts, pod: k8s.Obj, src: str, events: list[k8s.Obj]) -> list[Finding]:
    from agents.rules.detect_infra import pvc_findings

    ns = k8s.meta(pod, "namespace") or "default"
    mount_events = [e for e in events if e.get("reason") in ("FailedMount", "FailedAttachVolume", "FailedMapVolume")]
    if not mount_events or k8s.pod_phase(pod) not in ("Pending", ""):
        return []
    last = mount_events[-1]
    message = last.get("message", "")
    missing = k8s.MISSING_CONFIG.search(message)
    if missing:  # a configmap/secret volume whose source does not exist: that is missing config
        kind, obj = (missing.group(1) or missing.group(4) or "").lower(), missing.group(2) or missing.group(6)
        return [Finding(C.MISSING_CONFIG, 0.95, f"Pod {ns}/{k8s.name_of(pod)} cannot mount its {kind} volume: "
                        f"{kind} \"{obj}\" does not exist in namespace {ns}.",
                        [ev(k8s.event_source(last), k8s.event_line(last), "event")],
                        _missing_config_recs(ns, kind, obj, None))]
    findings = []
    for claim in k8s.pvc_names(pod):
        findings += pvc_findings(facts, ns, claim, via=f"{src}/spec.volumes")
    evidence = [ev(k8s.event_source(e), k8s.event_line(e), "event") for e in mount_events[-2:]]
    findings.append(Finding(C.VOLUME_MOUNT_FAILURE, 0.85,
                            f"Pod {ns}/{k8s.name_of(pod)} is stuck creating: a volume cannot be attached or mounted "
                            f"({message[:160]}).", evidence,
                            [rec("Inspect the volume attachment and the claim", f"kubectl -n {ns} describe pod {k8s.name_of(pod)}"),
                             rec("List volume attachments (a volume still attached elsewhere blocks the mount)",
                                 "kubectl get volumeattachments", priority=2)]))
    return findings


def _missing_config_recs(ns: str, kind: str, obj: str, key: str | None) -> list:
    if kind == "secret":
        create = f"kubectl -n {ns} create secret generic {obj} --from-literal={key or '<key>'}=<value>"
        check = f"kubectl -n {ns} get secrets"
    else:
        create = (f"kubectl -n {ns} patch configmap {obj} --type=merge -p '{{\"data\":{{\"{key}\":\"<value>\"}}}}'"
                  if key else f"kubectl -n {ns} create configmap {obj} --from-literal=<key>=<value>")
        check = f"kubectl -n {ns} get configmaps"
    action = f"Add key {key} to {kind} {obj}" if key else f"Create the missing {kind} {obj}"
    return [rec("Check which objects and keys exist", check),
            rec(action, create, RiskLevel.MEDIUM, priority=2)]


def _logs(facts: Facts, ns: str, pod: str, container: str) -> list[tuple[str, str]]:
    """(source, text) of the container's logs we have, previous (the crash) first."""
    out = []
    for previous in (True, False):
        text = facts.logs.get((ns, pod, container, previous))
        if text:
            out.append((f"logs/{ns}/{pod}/{container}{' (previous)' if previous else ''}", text))
    return out


def _container(facts: Facts, pod: k8s.Obj, src: str, c: k8s.ContainerView, events: list[k8s.Obj]) -> list[Finding]:
    ns, name = k8s.meta(pod, "namespace") or "default", k8s.name_of(pod)
    field = f"{src}/{c.status_field}"
    owner = owner_of(facts, pod)
    waiting, term, last = c.waiting, c.terminated, c.last_terminated
    w_reason, w_msg = waiting.get("reason", ""), waiting.get("message", "")
    findings: list[Finding] = []

    def add(category: C, confidence: float, description: str, evidence: list, recs: list) -> None:
        findings.append(Finding(category, confidence, description, evidence, recs, container=c.name))

    # --- the container never started ----------------------------------------------------------------------
    if w_reason in PULL_WAITING:
        pull_events = [e for e in events if e.get("reason") in ("Failed", "ErrImagePull") and "image" in (e.get("message") or "").lower()]
        evidence = [ev(f"{field}.state.waiting", f"{w_reason}: {w_msg}")]
        evidence += [ev(k8s.event_source(e), k8s.event_line(e), "event") for e in pull_events[-1:]]
        image = c.spec.get("image") or c.status.get("image", "")
        add(C.IMAGE_PULL_FAILURE, 0.95,
            f"Container {c.name} of pod {ns}/{name} cannot pull image {image!r} ({w_reason}).", evidence,
            [rec("Check the image name, tag and registry credentials",
                 f"kubectl -n {ns} get pod {name} -o jsonpath='{{.spec.imagePullSecrets}}'"),
             rec("Point the workload at an image that exists", f"kubectl -n {ns} set image {owner} {c.name}=<registry/image:existing-tag>",
                 RiskLevel.MEDIUM, priority=2)])
        return findings
    config_msg = " ".join(m for m in (w_msg,) + tuple(e.get("message", "") for e in events if e.get("reason") == "Failed") if m)
    if w_reason == "CreateContainerConfigError":
        if k8s.SECURITY_ERROR.search(config_msg):
            add(C.SECURITY_CONTEXT_VIOLATION, 0.95,
                f"Container {c.name} of pod {ns}/{name} is refused by its security context: {w_msg}",
                [ev(f"{field}.state.waiting", f"{w_reason}: {w_msg}")],
                [rec("Run the image as a non-root numeric user",
                     template_patch(ns, owner, {"securityContext": {"runAsUser": 10001, "runAsNonRoot": True}}),
                     RiskLevel.MEDIUM, "or set USER <uid> in the image"),
                 rec("Check which user the image runs as", f"kubectl -n {ns} get pod {name} -o jsonpath='{{.spec.securityContext}}'", priority=2)])
            return findings
        m = k8s.MISSING_CONFIG.search(config_msg)
        if m:
            if m.group(2):
                kind, obj, key = m.group(1).lower(), m.group(2), None
            else:
                kind, obj, key = m.group(4).lower(), m.group(6), m.group(3)
            evidence = [ev(f"{field}.state.waiting", f"{w_reason}: {w_msg}")]
            cms = facts.configmaps.get(ns)
            if kind == "configmap" and cms is not None:
                present = next((cm for cm in cms if cm.get("name") == obj), None)
                evidence.append(ev(f"configmaps/{ns}", f"configmap {obj} exists with keys {present.get('keys')}"
                                   if present else f"configmap {obj} does not exist (present: "
                                   f"{', '.join(cm.get('name', '') for cm in cms) or 'none'})"))
            what = f"key {key} of {kind} {obj}" if key else f"{kind} {obj}"
            add(C.MISSING_CONFIG, 0.95, f"Container {c.name} of pod {ns}/{name} cannot start: {what} "
                f"it references does not exist.", evidence, _missing_config_recs(ns, kind, obj, key))
            return findings
        add(C.MISSING_CONFIG, 0.7, f"Container {c.name} of pod {ns}/{name} has a configuration error: {w_msg}",
            [ev(f"{field}.state.waiting", f"{w_reason}: {w_msg}")],
            [rec("Read the full error", f"kubectl -n {ns} describe pod {name}")])
        return findings
    start_msgs = [(f"{field}.state.waiting", w_reason, w_msg)] if w_reason in START_REASONS else []
    for where, t in ((f"{field}.state.terminated", term), (f"{field}.lastState.terminated", last)):
        if t.get("reason") in START_REASONS or (t.get("message") and k8s.EXEC_ERROR.search(t.get("message", ""))):
            start_msgs.append((where, t.get("reason", ""), t.get("message", "")))
    for where, reason, msg in start_msgs:
        if k8s.SECURITY_ERROR.search(msg):
            add(C.SECURITY_CONTEXT_VIOLATION, 0.9, f"Container {c.name} of pod {ns}/{name} was refused by the runtime: {msg}",
                [ev(where, f"{reason}: {msg}")], [rec("Read the pod's security context", f"kubectl -n {ns} get pod {name} -o yaml")])
            return findings
        if k8s.EXEC_ERROR.search(msg):
            add(C.INVALID_COMMAND, 0.95, f"Container {c.name} of pod {ns}/{name} cannot start its command: {msg}",
                [ev(where, f"{reason}: {msg}"), ev(f"{src}/spec.containers[{c.name}].command",
                                                   f"command={c.spec.get('command')} args={c.spec.get('args')}")],
                _command_recs(ns, name, owner, c))
            return findings

    # --- the container ran and stopped ----------------------------------------------------------------------
    ended = last if last else term
    crashed = bool(ended) and (ended.get("exitCode", 0) != 0 or ended.get("reason") == "OOMKilled" or w_reason == "CrashLoopBackOff")
    logs = _logs(facts, ns, name, c.name)
    ended_field = f"{field}.{'lastState' if last else 'state'}"
    ended_line = (f"terminated reason={ended.get('reason', '')} exitCode={ended.get('exitCode')}"
                  f" finishedAt={ended.get('finishedAt', '')}") if ended else ""
    restarts_ev = ev(f"{field}.restartCount", f"restartCount={c.restarts}" + (f", waiting {w_reason}" if w_reason else ""))
    # a crash long before "now" in a container running since is history, not the cause of today's alert
    stale = _stale(facts, ended) and c.running is not None
    if crashed and stale:
        add(C.OOM_KILLED if ended.get("reason") == "OOMKilled" else C.APPLICATION_CRASH, 0.4,
            f"Container {c.name} of pod {ns}/{name} last terminated long ago ({ended_line}).",
            [ev(ended_field, ended_line)], [rec("Read that run's log", f"kubectl -n {ns} logs {name} -c {c.name} --previous")])
    elif crashed:
        code, reason = ended.get("exitCode"), ended.get("reason", "")
        for source, text in logs:
            for line in k8s.matching_lines(text, k8s.EXEC_ERROR, limit=1):
                if code in (126, 127) or "exec" in line.lower():
                    add(C.INVALID_COMMAND, 0.9, f"Container {c.name} of pod {ns}/{name} exits {code}: its command cannot be executed.",
                        [ev(ended_field, ended_line), ev(source, line, "log")], _command_recs(ns, name, owner, c))
                    return findings
        if code in (126, 127) and reason != "OOMKilled":
            add(C.INVALID_COMMAND, 0.75, f"Container {c.name} of pod {ns}/{name} exits {code} "
                f"({'command not found' if code == 127 else 'command not executable'}).",
                [ev(ended_field, ended_line), ev(f"{src}/spec.containers[{c.name}].command", f"command={c.spec.get('command')}")],
                _command_recs(ns, name, owner, c))
            return findings
        if reason != "OOMKilled":  # the kernel's verdict is direct; log noise cannot outrank it
            findings.extend(_dependency(facts, ns, name, c, logs, ended_field, ended_line))
        liveness = [e for e in events if LIVENESS_EVENT.search(e.get("message") or "") and _near(e, ended)]
        if reason == "OOMKilled":
            findings.append(_oom(facts, pod, src, c, ended_field, ended_line, restarts_ev, 0.95))
        elif liveness:
            add(C.LIVENESS_PROBE_FAILURE, 0.9,
                f"Container {c.name} of pod {ns}/{name} is killed and restarted by its liveness probe "
                f"(exit {code} after failed probes), not by a crash of its own.",
                [ev(ended_field, ended_line)] + [ev(k8s.event_source(e), k8s.event_line(e), "event") for e in liveness[-2:]] + [restarts_ev],
                _probe_recs(ns, name, owner, c, "livenessProbe"))
        elif code == 137:
            findings.append(_oom(facts, pod, src, c, ended_field, ended_line, restarts_ev, 0.6))
        for source, text in logs:
            ro = k8s.matching_lines(text, k8s.READONLY_FS, limit=1)
            if ro and (c.spec.get("securityContext") or {}).get("readOnlyRootFilesystem"):
                add(C.SECURITY_CONTEXT_VIOLATION, 0.85,
                    f"Container {c.name} of pod {ns}/{name} crashes writing to its read-only root filesystem.",
                    [ev(ended_field, ended_line), ev(source, ro[0], "log"),
                     ev(f"{src}/spec.containers[{c.name}].securityContext", "readOnlyRootFilesystem=true")],
                    [rec("Give the process a writable emptyDir for the path it writes", f"kubectl -n {ns} get {owner} -o yaml")])
        errors = [(s, line) for s, text in logs for line in k8s.matching_lines(text, k8s.ERROR_LINE, limit=2)]
        if not errors:
            errors = [(s, line) for s, text in logs for line in text.strip().splitlines()[-2:]]
        evidence = [ev(ended_field, ended_line), restarts_ev] + [ev(s, line, "log") for s, line in errors[:3]]
        conf = 0.8 if code not in (0, None) else 0.6
        add(C.APPLICATION_CRASH, conf,
            f"Container {c.name}{' (init)' if c.init else ''} of pod {ns}/{name} exits with code {code}"
            + (f" and is in {w_reason}" if w_reason else "") + (f"; last error: {errors[-1][1][:160]}" if errors else "."),
            evidence,
            [rec("Read the crashed container's log", f"kubectl -n {ns} logs {name} -c {c.name} --previous"),
             rec("Roll back to the previous revision if a release caused it", f"kubectl -n {ns} rollout undo {owner}",
                 RiskLevel.MEDIUM, priority=2)] if owner.split("/")[0] in ("deployment", "statefulset", "daemonset")
            else [rec("Read the crashed container's log", f"kubectl -n {ns} logs {name} -c {c.name} --previous")])
        return findings

    # --- running but unhealthy --------------------------------------------------------------------------
    if c.running is not None and not c.init:
        liveness = [e for e in events if LIVENESS_EVENT.search(e.get("message") or "")]
        readiness = [e for e in events if READINESS_EVENT.search(e.get("message") or "")]
        if liveness and c.restarts:
            add(C.LIVENESS_PROBE_FAILURE, 0.8, f"Container {c.name} of pod {ns}/{name} fails its liveness probe "
                f"and has been restarted {c.restarts} times.",
                [ev(k8s.event_source(e), k8s.event_line(e), "event") for e in liveness[-2:]] + [restarts_ev],
                _probe_recs(ns, name, owner, c, "livenessProbe"))
        if not c.ready:
            evidence = [ev(f"{field}.ready", f"ready=false, running since {c.running.get('startedAt', '?')}, "
                                             f"restartCount={c.restarts}")]
            evidence += [ev(k8s.event_source(e), k8s.event_line(e), "event") for e in readiness[-2:]]
            probe = c.spec.get("readinessProbe")
            if probe:
                evidence.append(ev(f"{src}/spec.containers[{c.name}].readinessProbe", _probe_text(probe)))
            findings.append(Finding(C.READINESS_PROBE_FAILURE, 0.9 if readiness else 0.55,
                                    f"Container {c.name} of pod {ns}/{name} is running but not ready"
                                    + (": its readiness probe fails" if readiness else "") + ", so it receives no traffic.",
                                    evidence, _probe_recs(ns, name, owner, c, "readinessProbe"), container=c.name))
            for source, text in logs:  # not ready because something it needs is down?
                dep = _dependency(facts, ns, name, c, [(source, text)], f"{field}.ready", "ready=false")
                findings.extend(dep)
    return findings


def _stale(facts: Facts, ended: k8s.Obj) -> bool:
    finished = k8s.parse_time(ended.get("finishedAt"))
    return bool(facts.now and finished and facts.now - finished > k8s.STALE_AFTER)


def _near(event: k8s.Obj, ended: k8s.Obj) -> bool:
    """A probe event belongs to this termination when it happened in the 30 minutes before it (or just after)."""
    t, finished = k8s.event_time(event), k8s.parse_time(ended.get("finishedAt"))
    if not t or not finished:
        return True
    return -1800 <= (t - finished).total_seconds() <= 120


def _oom(facts: Facts, pod: k8s.Obj, src: str, c: k8s.ContainerView, ended_field: str, ended_line: str,
         restarts_ev, confidence: float) -> Finding:
    ns, name = k8s.meta(pod, "namespace") or "default", k8s.name_of(pod)
    limits = (c.spec.get("resources") or {}).get("limits") or {}
    limit = limits.get("memory")
    evidence = [ev(ended_field, ended_line), restarts_ev,
                ev(f"{src}/spec.containers[{c.name}].resources.limits.memory", f"memory limit={limit or 'none'}")]
    usage = _usage(facts, ns, name, c.name)
    if usage:
        evidence.append(ev(f"metrics/{ns}/{name}/{c.name}", f"memory usage={usage}", "metric"))
    owner = owner_of(facts, pod)
    limit_bytes = k8s.parse_quantity(limit) if limit else None
    recs = []
    if limit_bytes:
        new = k8s.format_memory(limit_bytes * 2)
        recs.append(rec(f"Raise the memory limit of {c.name} from {limit} to {new}",
                        f"kubectl -n {ns} set resources {owner} -c {c.name} --limits=memory={new}", RiskLevel.MEDIUM,
                        "rolls the pods; check the node has room"))
    else:
        recs.append(rec("Set a memory request and limit sized to real usage",
                        f"kubectl -n {ns} set resources {owner} -c {c.name} --requests=memory=<usage> --limits=memory=<2x usage>",
                        RiskLevel.MEDIUM))
    recs.append(rec("Watch memory usage to confirm (and look for a leak)", f"kubectl -n {ns} top pod {name} --containers",
                    priority=2))
    sure = "OOMKilled" in ended_line
    return Finding(C.OOM_KILLED, confidence,
                   f"Container {c.name} of pod {ns}/{name} is killed for exceeding its memory "
                   f"{'limit ' + limit if limit else 'allowance (no limit set)'}"
                   + (" (OOMKilled, exit 137)" if sure else " (exit 137 = SIGKILL; most likely the OOM killer)")
                   + (f"; usage {usage}" if usage else "") + ".", evidence, recs, container=c.name)


def _usage(facts: Facts, ns: str, pod: str, container: str) -> str:
    for m in facts.pod_metrics.get(ns, []):
        if k8s.name_of(m) == pod:
            for cm in m.get("containers") or []:
                if cm.get("name") == container:
                    return (cm.get("usage") or {}).get("memory", "")
    return ""


def _dependency(facts: Facts, ns: str, pod: str, c: k8s.ContainerView, logs: list[tuple[str, str]],
                ended_field: str, ended_line: str) -> list[Finding]:
    """Crash (or unreadiness) explained by a service it needs: refused connections or failing DNS in its log."""
    findings: list[Finding] = []
    for source, text in logs:
        dns_lines = k8s.matching_lines(text, k8s.DNS_ERROR, limit=1)
        if dns_lines:
            line = dns_lines[-1]
            hosts = k8s.dns_hosts(line)
            evidence = [ev(ended_field, ended_line), ev(source, line, "log")]
            coredns = facts.selected_pods.get(("kube-system", "k8s-app=kube-dns"))
            confidence = 0.85
            description = (f"Container {c.name} of pod {ns}/{pod} fails because a name does not resolve"
                           + (f" ({hosts[0]})" if hosts else "") + ".")
            recs = [rec("Check cluster DNS", "kubectl -n kube-system get pods -l k8s-app=kube-dns")]
            if coredns is not None:
                pods = [facts.pods[k] for k in coredns if k in facts.pods]
                bad = [p for p in pods if k8s.pod_unhealthy(p)]
                evidence.append(ev("pods/kube-system?k8s-app=kube-dns",
                                   f"{len(pods) - len(bad)}/{len(pods)} cluster DNS pods ready"))
                if pods and len(bad) == len(pods):
                    confidence, description = 0.95, description[:-1] + ": cluster DNS has no ready pod."
                    recs.append(rec("Restart cluster DNS", "kubectl -n kube-system rollout restart deployment/coredns",
                                    RiskLevel.MEDIUM, priority=2))
            if hosts:
                svc = k8s.service_of_host(hosts[0], ns)
                if svc:
                    known = facts.services.get(svc)
                    recs.append(rec(f"Check that service {svc[1]} exists in namespace {svc[0]}",
                                    f"kubectl -n {svc[0]} get service {svc[1]}", priority=2))
                    if known is not None and known.get("service") is None:
                        evidence.append(ev(f"service/{svc[0]}/{svc[1]}", "not found"))
            findings.append(Finding(C.DNS_FAILURE, confidence, description, evidence, recs, container=c.name))
            return findings
        for line in k8s.matching_lines(text, k8s.CONN_ERROR, limit=3)[::-1]:
            for host, port in k8s.conn_hosts(line):
                svc = k8s.service_of_host(host, ns)
                evidence = [ev(ended_field, ended_line), ev(source, line, "log")]
                if svc is None:
                    findings.append(Finding(C.DEPENDENCY_FAILURE, 0.65,
                                            f"Container {c.name} of pod {ns}/{pod} cannot reach {host}:{port} (outside the cluster).",
                                            evidence, [rec(f"Check {host}:{port} is up and reachable from the cluster",
                                                           f"kubectl -n {ns} logs {pod} -c {c.name} --previous")], container=c.name))
                    return findings
                info = facts.services.get(svc)
                if info is None:
                    continue
                service, endpoints = info.get("service"), info.get("endpoints")
                svc_src = f"service/{svc[0]}/{svc[1]}"
                if service is None:
                    evidence.append(ev(svc_src, "not found"))
                    findings.append(Finding(C.DEPENDENCY_FAILURE, 0.75,
                                            f"Container {c.name} of pod {ns}/{pod} cannot connect to {host}:{port}: "
                                            f"service {svc[1]} does not exist in namespace {svc[0]}.",
                                            evidence, [rec(f"Deploy or fix the name of the dependency {svc[1]}",
                                                           f"kubectl -n {svc[0]} get services")], container=c.name))
                    return findings
                ready = k8s.endpoints_ready(endpoints)
                evidence.append(ev(f"endpoints/{svc[0]}/{svc[1]}",
                                   f"{ready} ready addresses, {k8s.endpoints_not_ready(endpoints)} not ready"))
                selector = (service.get("spec") or {}).get("selector") or {}
                sel = ",".join(f"{k}={v}" for k, v in selector.items())
                if ready == 0:
                    findings.append(Finding(
                        C.DEPENDENCY_FAILURE, 0.9,
                        f"Container {c.name} of pod {ns}/{pod} fails because its dependency {svc[1]} refuses connections "
                        f"({host}:{port}): service {svc[0]}/{svc[1]} has no ready endpoints.", evidence,
                        [rec(f"Diagnose the dependency's pods first", f"kubectl -n {svc[0]} get pods -l {sel}" if sel
                             else f"kubectl -n {svc[0]} get endpoints {svc[1]}"),
                         rec("Make the app wait for its dependency instead of crashing (startup retry / init container)",
                             f"kubectl -n {svc[0]} describe service {svc[1]}", priority=2)], container=c.name))
                else:
                    findings.append(Finding(C.DEPENDENCY_FAILURE, 0.5,
                                            f"Container {c.name} of pod {ns}/{pod} saw connection errors to {svc[1]}, "
                                            f"which has {ready} ready endpoints (intermittent?).", evidence,
                                            [rec("Check the dependency's health", f"kubectl -n {svc[0]} get endpoints {svc[1]}")],
                                            container=c.name))
                return findings
    return findings


def _command_recs(ns: str, pod: str, owner: str, c: k8s.ContainerView) -> list:
    return [rec("Compare the command with what the image contains (and its CPU architecture)",
                f"kubectl -n {ns} get pod {pod} -o jsonpath='{{.spec.containers[?(@.name==\"{c.name}\")].command}}'"),
            rec("Fix the container's command (or rebuild the image for the node's architecture)",
                template_patch(ns, owner, {"containers": [{"name": c.name, "command": ["<entrypoint that exists in the image>"]}]}),
                RiskLevel.MEDIUM, priority=2)]


def _probe_text(probe: k8s.Obj) -> str:
    how = next((k for k in ("httpGet", "tcpSocket", "exec", "grpc") if k in probe), "?")
    detail = probe.get(how) or {}
    target = detail.get("path") or detail.get("command") or ""
    return (f"{how} {target} port={detail.get('port', '')} initialDelaySeconds={probe.get('initialDelaySeconds', 0)} "
            f"timeoutSeconds={probe.get('timeoutSeconds', 1)} failureThreshold={probe.get('failureThreshold', 3)}")


def _probe_recs(ns: str, pod: str, owner: str, c: k8s.ContainerView, probe: str) -> list:
    current = c.spec.get(probe) or {}
    patch = {"containers": [{"name": c.name, probe: {
        "timeoutSeconds": max(5, int(current.get("timeoutSeconds", 1)) * 2),
        "failureThreshold": max(6, int(current.get("failureThreshold", 3)) * 2),
        "initialDelaySeconds": max(30, int(current.get("initialDelaySeconds", 0)))}}]}
    return [rec(f"Check what the {probe} calls and why it fails", f"kubectl -n {ns} describe pod {pod}"),
            rec(f"If the app is healthy but slow, relax the {probe}", template_patch(ns, owner, patch), RiskLevel.MEDIUM,
                priority=2)]
