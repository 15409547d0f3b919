"""Rules about one pod: its scheduling, node, volumes and each container (init, app, sidecar).

`explain_pod` is the unit of the causal walk: the alerted pod, the worst pod of an alerted workload, the pod
behind a dependency's Service or the cluster DNS are all explained by it (detect_deps follows what a
container's log names to the next pod). It also says which calls would tell more (`ctx.want`).
"""

from __future__ import annotations

from agents.rules import k8s, patterns
from agents.rules.context import MAX_DEPTH, PATH, SUPPORT, Ctx
from agents.rules.finding import Finding, Link, ev
from agents.rules.fixes import owner_of, rec, template_patch
from agents.rules.observations import call
from schemas.result import ProblemCategory as C, RiskLevel

PULL_WAITING = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
START_REASONS = ("StartError", "RunContainerError", "ContainerCannotRun", "CreateContainerError")
NOT_STARTED_YET = ("ContainerCreating", "PodInitializing")
MAX_CONTAINERS = 2  # containers of one pod whose logs are read
MAX_PVCS = 3


def pod_ref(pod: k8s.Obj) -> str:
    return f"pod/{k8s.meta(pod, 'namespace') or 'default'}/{k8s.name_of(pod)}"


def pod_key(pod: k8s.Obj) -> tuple[str, str]:
    return k8s.meta(pod, "namespace") or "default", k8s.name_of(pod)


def stale(facts, ended: k8s.Obj) -> bool:
    finished = k8s.parse_time(ended.get("finishedAt"))
    return bool(facts.now and finished and facts.now - finished > k8s.STALE_AFTER)


def broken(facts, pod: k8s.Obj, c: k8s.ContainerView) -> bool:
    """Is this container part of the problem now? An old termination of a container that has run ready
    since is history (a red herring), not a reason to read its logs."""
    if c.waiting:
        return c.waiting.get("reason") not in NOT_STARTED_YET or c.init
    if c.terminated:
        return bool(c.terminated.get("exitCode")) or c.terminated.get("reason") == "OOMKilled"
    if c.init:
        return c.running is not None and k8s.pod_phase(pod) == "Pending"  # an init container that never finishes
    if not c.ready:
        return True
    if c.last_terminated:
        return not stale(facts, c.last_terminated)
    return False


def worst_first(pods: list[k8s.Obj]) -> list[k8s.Obj]:
    return sorted((p for p in pods if k8s.pod_unhealthy(p)), key=k8s.badness)


def signature(pod: k8s.Obj) -> tuple:
    """What a pod's failure looks like, to skip describing a second pod that fails the same way."""
    views = k8s.containers(pod)
    return (k8s.pod_phase(pod), tuple(sorted((c.waiting.get("reason", ""), c.last_terminated.get("reason", ""),
                                              c.terminated.get("reason", "")) for c in views)))


def explain_pod(ctx: Ctx, pod: k8s.Obj, depth: int = 0, role: str = "subject", priority: int = PATH) -> list[Finding]:
    key = pod_key(pod)
    if key in ctx.explaining or depth > MAX_DEPTH:
        return []
    ctx.explaining.add(key)
    try:
        return _explain(ctx, pod, depth, role, priority)
    finally:
        ctx.explaining.discard(key)


def _explain(ctx: Ctx, pod: k8s.Obj, depth: int, role: str, priority: int) -> list[Finding]:
    facts = ctx.facts
    ns, name = pod_key(pod)
    src = pod_ref(pod)
    if (ns, name) not in facts.described:
        ctx.want(call("describe_pod", f"{'an unhealthy' if role == 'subject' else 'the ' + role} pod: status and events",
                      namespace=ns, name=name), priority)
    ref = k8s.controller_ref(pod)
    if role == "subject" and ctx.target.kind == "pod" and ref and \
            ref.get("kind", "").lower() in ("replicaset", "statefulset", "daemonset", "job"):
        ctx.want(call("get_workload", "the pod's owner chain (for the fix command)", namespace=ns,
                      kind=ref["kind"].lower(), name=ref.get("name", "")), priority)
    events = k8s.recent(k8s.events_for(facts.events, "Pod", name, ns), facts.now)
    findings: list[Finding] = []
    findings += _eviction(ctx, pod, src, priority)
    findings += _rejected(ctx, pod, src)
    findings += _node(ctx, pod, src, events, priority)
    findings += _unscheduled(ctx, pod, src, events, priority)
    findings += _mount(ctx, pod, src, events, priority)
    views = sorted(k8s.containers(pod), key=lambda c: (c.name != ctx.target.container or role != "subject",
                                                        not c.init and c.ready, -c.restarts))
    for c in [v for v in views if broken(facts, pod, v)][:MAX_CONTAINERS]:
        _want_logs(ctx, pod, c, priority)
    for c in views:
        findings += _container(ctx, pod, src, c, events, depth, priority)
    return findings


def _want_logs(ctx: Ctx, pod: k8s.Obj, c: k8s.ContainerView, priority: int) -> None:
    ns, name = pod_key(pod)
    reason = c.waiting.get("reason", "")
    if reason == "CreateContainerConfigError":
        ctx.want(call("list_configmaps", "config error: which configmaps and keys exist", namespace=ns), SUPPORT)
        return
    if reason in PULL_WAITING or (reason in START_REASONS and not c.last_terminated):
        return  # the image never ran: there are no logs
    if c.last_terminated or c.restarts:
        ctx.want(call("pod_logs", f"container {c.name} crashed: its previous log", namespace=ns, name=name,
                      container=c.name, previous=True, tail_lines=200), priority)
    if c.running is not None or c.terminated:
        ctx.want(call("pod_logs", f"container {c.name}: its current log", namespace=ns, name=name,
                      container=c.name, previous=False, tail_lines=200), priority)


# --- the pod as a whole ----------------------------------------------------------------------------------------

def _eviction(ctx: Ctx, pod: k8s.Obj, src: str, priority: int) -> list[Finding]:
    status = pod.get("status") or {}
    message = status.get("message", "") or ""
    hit = patterns.search("evicted", message)
    if status.get("reason") != "Evicted" and not (hit and k8s.pod_phase(pod) == "Failed"):
        return []
    facts = ctx.facts
    ns, name = pod_key(pod)
    node_name = (pod.get("spec") or {}).get("nodeName", "")
    if node_name and node_name not in facts.nodes:
        ctx.want(call("get_node", "the evicting node: its pressure conditions", name=node_name), SUPPORT)
    pod_link = Link(src, f"pod {ns}/{name} was evicted by the kubelet: {message[:160]}",
                    [ev(f"{src}/status.reason", f"phase={status.get('phase')} reason=Evicted: {message}")])
    node = facts.nodes.get(node_name)
    pressures = [c for c in ((node or {}).get("status") or {}).get("conditions") or []
                 if c.get("type", "").endswith("Pressure") and c.get("status") == "True"]
    links = [pod_link]
    if pressures:
        links.append(Link(f"node/{node_name}", f"node {node_name} reports {', '.join(c['type'] for c in pressures)}",
                          [ev(f"node/{node_name}/status.conditions[{c['type']}]", f"{c['type']}=True: {c.get('message', '')}")
                           for c in pressures]))
    what = (hit.get("resource") if hit else "") or ("ephemeral-storage" if "ephemeral" in message else "a resource")
    owner = owner_of(facts, pod)
    over_limit = "limit" in message and "low on resource" not in message
    recs = [rec("See the node's pressure and the top consumers", f"kubectl describe node {node_name}"),
            rec("Set requests (and an ephemeral-storage limit) that match real usage" if over_limit else
                "Set requests that match real usage so the pod is not the first evicted",
                f"kubectl -n {ns} set resources {owner} --requests="
                f"{'memory' if what == 'memory' else 'ephemeral-storage'}=<observed usage>", RiskLevel.MEDIUM, priority=2),
            rec("Remove the evicted pod objects once the cause is fixed", f"kubectl -n {ns} delete pod {name}",
                RiskLevel.LOW, priority=3)]
    chain = links
    return [Finding(C.NODE_PRESSURE_EVICTION, 0.95 if pressures else 0.9,
                    f"Pod {ns}/{name} was evicted by the kubelet of node {node_name or '?'} "
                    + ("because it exceeded its ephemeral-storage limit." if over_limit
                       else f"because the node was low on {what}."),
                    [e for link in chain for e in link.evidence], recs, resource=src, chain=chain)]


def _rejected(ctx: Ctx, pod: k8s.Obj, src: str) -> list[Finding]:
    """The kubelet refused a pod bound to its node (OutOfcpu, OutOfnvidia.com/gpu, …): not enough there."""
    status = pod.get("status") or {}
    reason = status.get("reason") or ""
    if not reason.startswith("OutOf") and reason != "UnexpectedAdmissionError":
        return []
    ns, name = pod_key(pod)
    message = status.get("message") or ""
    hit = patterns.search("sched_resources", message)
    what = (hit.get("resource") if hit else "") or reason[len("OutOf"):] or "a resource"
    node = (pod.get("spec") or {}).get("nodeName", "?")
    evidence = [ev(f"{src}/status.reason", f"phase={status.get('phase')} reason={reason}: {message}")]
    return [Finding(C.INSUFFICIENT_RESOURCES, 0.9, f"Pod {ns}/{name} was rejected by the kubelet of node {node}: "
                    f"the node does not have the {what} it requests ({message[:160]}).", evidence,
                    [rec("See what the node can allocate", f"kubectl describe node {node}"),
                     rec("Let the scheduler place the pod (no fixed nodeName) or free that resource on the node",
                         f"kubectl -n {ns} get pod {name} -o yaml", priority=2)],
                    resource=src, summary=f"pod {ns}/{name} rejected by node {node}: not enough {what}")]


def _node_suspect(pod: k8s.Obj, pod_events: list[k8s.Obj]) -> bool:
    """Look at the node only when the pod's own state does not explain it."""
    status = pod.get("status") or {}
    crashed = any(c.terminated.get("exitCode") or c.last_terminated for c in k8s.containers(pod))
    if status.get("phase") == "Unknown" or k8s.meta(pod, "deletionTimestamp", None):
        return True
    if status.get("phase") == "Failed" and not crashed and status.get("reason") not in ("Evicted",):
        return True
    if any(e.get("reason") in ("NodeNotReady", "NodeLost", "TaintManagerEviction") for e in pod_events):
        return True
    ready = k8s.condition(pod, "Ready")
    app = [c for c in k8s.containers(pod) if not c.init]
    return bool(ready and ready.get("status") != "True" and app and all(c.ready or not c.status for c in app))


def _node(ctx: Ctx, pod: k8s.Obj, src: str, events: list[k8s.Obj], priority: int) -> list[Finding]:
    from agents.rules.detect_infra import node_not_ready_recs

    facts = ctx.facts
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        return []
    if node_name not in facts.nodes:
        if _node_suspect(pod, events):
            ctx.want(call("get_node", "the pod's node: conditions and pressure", name=node_name), priority)
        return []
    node = facts.nodes[node_name]
    ready = k8s.condition(node, "Ready")
    if ready is None or ready.get("status") == "True":
        return []
    ns, name = pod_key(pod)
    pod_ready = k8s.condition(pod, "Ready")
    pod_link = Link(src, f"pod {ns}/{name} runs on node {node_name}" + (
        f" and is Ready={pod_ready.get('status')}" if pod_ready else ""),
        [ev(f"{src}/spec.nodeName", f"pod runs on {node_name}")] + (
            [ev(f"{src}/status.conditions[Ready]", f"Ready={pod_ready.get('status')} {pod_ready.get('reason', '')}")]
            if pod_ready else []))
    node_link = Link(f"node/{node_name}", f"node {node_name} is NotReady ({ready.get('reason') or ready.get('status')}: "
                                          f"{(ready.get('message') or '')[:120]})",
                     [ev(f"node/{node_name}/status.conditions[Ready]",
                         f"Ready={ready.get('status')} reason={ready.get('reason', '')}: {ready.get('message', '')}")])
    chain = [pod_link, node_link]
    return [Finding(C.NODE_NOT_READY, 0.9,
                    f"Node {node_name}, where pod {ns}/{name} runs, is NotReady "
                    f"({ready.get('reason') or ready.get('status')}); its pods cannot run or report.",
                    [e for link in chain for e in link.evidence], node_not_ready_recs(node_name), resource=src,
                    chain=chain)]


def _unscheduled(ctx: Ctx, pod: k8s.Obj, src: str, events: list[k8s.Obj], priority: int) -> list[Finding]:
    from agents.rules.detect_infra import pvc_findings, scheduling_findings

    facts = ctx.facts
    spec = pod.get("spec") or {}
    scheduled = k8s.condition(pod, "PodScheduled")
    if spec.get("nodeName") or (scheduled and scheduled.get("status") == "True") or k8s.pod_phase(pod) != "Pending":
        return []
    ns, name = pod_key(pod)
    findings: list[Finding] = []
    for claim in k8s.pvc_names(pod)[:MAX_PVCS]:
        if (ns, claim) not in facts.pvcs:
            ctx.want(call("get_pvc", "a pending pod's claim: is it bound", namespace=ns, name=claim), priority)
        findings += pvc_findings(ctx, ns, claim, pod=pod)
    failed = [e for e in events if e.get("reason") == "FailedScheduling"]
    message = (failed[-1].get("message") or failed[-1].get("note") or "") if failed else \
        (scheduled or {}).get("message", "")
    if message:
        category, _ = classify_scheduling(message)
        if category not in (None, C.VOLUME_MOUNT_FAILURE) and not facts.nodes_listed:
            ctx.want(call("list_nodes", "scheduler refused the pod: node capacity, taints and labels"), priority)
        event = failed[-1] if failed else {"reason": "FailedScheduling", "message": message,
                                           "involvedObject": {"kind": "Pod", "name": name, "namespace": ns}}
        findings += scheduling_findings(ctx, pod, src, event, bool(findings),
                                        source=None if failed else f"{src}/status.conditions[PodScheduled]")
    return findings


def classify_scheduling(message: str):
    from agents.rules.detect_infra import classify_scheduling as classify

    return classify(message)


def _mount(ctx: Ctx, pod: k8s.Obj, src: str, events: list[k8s.Obj], priority: int) -> list[Finding]:
    from agents.rules.detect_infra import pvc_findings

    facts = ctx.facts
    ns, name = pod_key(pod)
    mount_events = [e for e in events if e.get("reason") in ("FailedMount", "FailedAttachVolume", "FailedMapVolume")]
    if not mount_events or k8s.pod_phase(pod) not in ("Pending", ""):
        return []
    last = mount_events[-1]
    message = last.get("message", "") or ""
    missing = patterns.search("missing_config", message)
    if missing:  # a configmap/secret volume whose source (or key) does not exist: that is missing config
        kind, obj, key = (missing.get("kind") or "config").lower(), missing.get("object"), missing.get("key") or None
        what = f"key {key}" + (f" of {kind} {obj}" if obj else "") if key else f"{kind} \"{obj}\""
        return [Finding(C.MISSING_CONFIG, 0.95, f"Pod {ns}/{name} cannot mount its {kind} volume: {what} does not "
                        f"exist in namespace {ns}.", [ev(k8s.event_source(last), k8s.event_line(last), "event")],
                        _missing_config_recs(ns, kind, obj or "<name>", key), resource=src,
                        summary=f"pod {ns}/{name} cannot mount {kind} volume: {what} does not exist")]
    findings = []
    for claim in k8s.pvc_names(pod)[:MAX_PVCS]:
        if (ns, claim) not in facts.pvcs:
            ctx.want(call("get_pvc", "volume mount failed: the claim and its volume", namespace=ns, name=claim), priority)
        findings += pvc_findings(ctx, ns, claim, pod=pod)
    evidence = [ev(k8s.event_source(e), k8s.event_line(e), "event") for e in mount_events[-2:]]
    findings.append(Finding(C.VOLUME_MOUNT_FAILURE, 0.85,
                            f"Pod {ns}/{name} is stuck creating: a volume cannot be attached or mounted "
                            f"({message[:160]}).", evidence,
                            [rec("Inspect the volume attachment and the claim", f"kubectl -n {ns} describe pod {name}"),
                             rec("List volume attachments (a volume still attached elsewhere blocks the mount)",
                                 "kubectl get volumeattachments", priority=2)],
                            resource=src, summary=f"pod {ns}/{name} cannot attach/mount a volume: {message[:120]}"))
    return findings


def _missing_config_recs(ns: str, kind: str, obj: str, key: str | None) -> list:
    if kind == "secret":
        create = f"kubectl -n {ns} create secret generic {obj} --from-literal={key or '<key>'}=<value>"
        check = f"kubectl -n {ns} get secrets"
    elif kind == "serviceaccount":
        create = f"kubectl -n {ns} create serviceaccount {obj}"
        check = f"kubectl -n {ns} get serviceaccounts"
    else:
        create = (f"kubectl -n {ns} patch configmap {obj} --type=merge -p '{{\"data\":{{\"{key}\":\"<value>\"}}}}'"
                  if key else f"kubectl -n {ns} create configmap {obj} --from-literal=<key>=<value>")
        check = f"kubectl -n {ns} get configmaps"
    action = f"Add key {key} to {kind} {obj}" if key else f"Create the missing {kind} {obj}"
    return [rec("Check which objects and keys exist", check),
            rec(action, create, RiskLevel.MEDIUM, priority=2)]


# --- one container ---------------------------------------------------------------------------------------------

def logs_of(facts, ns: str, pod: str, container: str) -> list[tuple[str, str]]:
    """(source, text) of the container's logs we have, previous (the crash) first."""
    out = []
    for previous in (True, False):
        text = facts.logs.get((ns, pod, container, previous))
        if text:
            out.append((f"logs/{ns}/{pod}/{container}{' (previous)' if previous else ''}", text))
    return out


def _container(ctx: Ctx, pod: k8s.Obj, src: str, c: k8s.ContainerView, events: list[k8s.Obj], depth: int,
               priority: int) -> list[Finding]:
    from agents.rules.detect_deps import log_causes

    facts = ctx.facts
    ns, name = pod_key(pod)
    field = f"{src}/{c.status_field}"
    owner = owner_of(facts, pod)
    waiting, term, last = c.waiting, c.terminated, c.last_terminated
    w_reason, w_msg = waiting.get("reason", ""), waiting.get("message", "")
    label = f"container {c.name}{' (init)' if c.init else ''} of pod {ns}/{name}"
    findings: list[Finding] = []

    def add(category: C, confidence: float, description: str, evidence: list, recs: list, summary: str = "") -> None:
        findings.append(Finding(category, confidence, description, evidence, recs, container=c.name, resource=src,
                                summary=summary or description))

    # --- the container never started ----------------------------------------------------------------------
    if w_reason in PULL_WAITING:
        pull_events = [e for e in events if e.get("reason") in ("Failed", "ErrImagePull")
                       and "image" in (e.get("message") or "").lower()]
        evidence = [ev(f"{field}.state.waiting", f"{w_reason}: {w_msg}")]
        evidence += [ev(k8s.event_source(e), k8s.event_line(e), "event") for e in pull_events[-1:]]
        image = c.spec.get("image") or c.status.get("image", "")
        add(C.IMAGE_PULL_FAILURE, 0.95, f"Container {c.name} of pod {ns}/{name} cannot pull image {image!r} ({w_reason}).",
            evidence,
            [rec("Check the image name, tag and registry credentials",
                 f"kubectl -n {ns} get pod {name} -o jsonpath='{{.spec.imagePullSecrets}}'"),
             rec("Point the workload at an image that exists", f"kubectl -n {ns} set image {owner} {c.name}=<registry/image:existing-tag>",
                 RiskLevel.MEDIUM, priority=2)],
            summary=f"{label} cannot pull image {image} ({w_reason})")
        return findings
    config_msg = " ".join(m for m in (w_msg,) + tuple(e.get("message", "") for e in events if e.get("reason") == "Failed") if m)
    if w_reason == "CreateContainerConfigError":
        if patterns.search("security_refusal", config_msg):
            add(C.SECURITY_CONTEXT_VIOLATION, 0.95, f"Container {c.name} of pod {ns}/{name} is refused by its security context: {w_msg}",
                [ev(f"{field}.state.waiting", f"{w_reason}: {w_msg}")],
                [rec("Run the image as a non-root numeric user",
                     template_patch(ns, owner, {"securityContext": {"runAsUser": 10001, "runAsNonRoot": True}}),
                     RiskLevel.MEDIUM, "or set USER <uid> in the image"),
                 rec("Check which user the image runs as", f"kubectl -n {ns} get pod {name} -o jsonpath='{{.spec.securityContext}}'", priority=2)],
                summary=f"{label} refused by its security context")
            return findings
        m = patterns.search("missing_config", config_msg)
        if m:
            kind = (m.get("kind") or "configmap").lower()
            obj, key = m.get("object"), m.get("key") or None
            evidence = [ev(f"{field}.state.waiting", f"{w_reason}: {w_msg}")]
            cms = facts.configmaps.get(ns)
            if kind == "configmap" and cms is not None and obj:
                present = next((cm for cm in cms if cm.get("name") == obj), None)
                evidence.append(ev(f"configmaps/{ns}", f"configmap {obj} exists with keys {present.get('keys')}"
                                   if present else f"configmap {obj} does not exist (present: "
                                   f"{', '.join(cm.get('name', '') for cm in cms) or 'none'})"))
            what = f"key {key} of {kind} {obj}" if key else f"{kind} {obj}"
            add(C.MISSING_CONFIG, 0.95, f"Container {c.name} of pod {ns}/{name} cannot start: {what} "
                f"it references does not exist.", evidence, _missing_config_recs(ns, kind, obj or "<name>", key),
                summary=f"{label} cannot start: {what} does not exist")
            return findings
        add(C.MISSING_CONFIG, 0.7, f"Container {c.name} of pod {ns}/{name} has a configuration error: {w_msg}",
            [ev(f"{field}.state.waiting", f"{w_reason}: {w_msg}")],
            [rec("Read the full error", f"kubectl -n {ns} describe pod {name}")])
        return findings
    start_msgs = [(f"{field}.state.waiting", w_reason, w_msg)] if w_reason in START_REASONS else []
    for where, t in ((f"{field}.state.terminated", term), (f"{field}.lastState.terminated", last)):
        if t.get("reason") in START_REASONS or (t.get("message") and patterns.search("exec_failure", t.get("message", ""))):
            start_msgs.append((where, t.get("reason", ""), t.get("message", "")))
    for where, reason, msg in start_msgs:
        if patterns.search("security_refusal", msg):
            add(C.SECURITY_CONTEXT_VIOLATION, 0.9, f"Container {c.name} of pod {ns}/{name} was refused by the runtime: {msg}",
                [ev(where, f"{reason}: {msg}")], [rec("Read the pod's security context", f"kubectl -n {ns} get pod {name} -o yaml")],
                summary=f"{label} refused by the runtime: {msg[:120]}")
            return findings
        if patterns.search("exec_failure", msg):
            add(C.INVALID_COMMAND, 0.95, f"Container {c.name} of pod {ns}/{name} cannot start its command: {msg}",
                [ev(where, f"{reason}: {msg}"), ev(f"{src}/spec.containers[{c.name}].command",
                                                   f"command={c.spec.get('command')} args={c.spec.get('args')}")],
                _command_recs(ns, name, owner, c), summary=f"{label} cannot start its command: {msg[:140]}")
            return findings

    # --- the container ran and stopped ----------------------------------------------------------------------
    ended = last if last else term
    crashed = bool(ended) and (ended.get("exitCode", 0) != 0 or ended.get("reason") == "OOMKilled" or w_reason == "CrashLoopBackOff")
    logs = logs_of(facts, ns, name, c.name)
    ended_field = f"{field}.{'lastState' if last else 'state'}"
    ended_line = (f"terminated reason={ended.get('reason', '')} exitCode={ended.get('exitCode')}"
                  f" finishedAt={ended.get('finishedAt', '')}") if ended else ""
    restarts_ev = ev(f"{field}.restartCount", f"restartCount={c.restarts}" + (f", waiting {w_reason}" if w_reason else ""))
    is_stale = stale(facts, ended) and c.running is not None
    if crashed and is_stale:
        add(C.OOM_KILLED if ended.get("reason") == "OOMKilled" else C.APPLICATION_CRASH, 0.4,
            f"Container {c.name} of pod {ns}/{name} last terminated long ago ({ended_line}).",
            [ev(ended_field, ended_line)], [rec("Read that run's log", f"kubectl -n {ns} logs {name} -c {c.name} --previous")])
    elif crashed:
        code, reason = ended.get("exitCode"), ended.get("reason", "")
        loop = "crash-loops" if (w_reason == "CrashLoopBackOff" or c.restarts > 1) else "crashed"
        symptom = Link(src, f"{label} {loop} (exit {code}{', ' + reason if reason and reason != 'Error' else ''}, "
                            f"{c.restarts} restarts)", [ev(ended_field, ended_line), restarts_ev])
        for source, text in logs:
            for hit in patterns.lines("exec_failure", text, limit=1):
                if code in (126, 127) or "exec" in hit.line.lower() or hit.id == "shell-command-not-found":
                    add(C.INVALID_COMMAND, 0.9, f"Container {c.name} of pod {ns}/{name} exits {code}: its command cannot be executed.",
                        [ev(ended_field, ended_line), ev(source, hit.line, "log")], _command_recs(ns, name, owner, c),
                        summary=f"{label} exits {code}: {hit.line[:140]}")
                    return findings
        if code in (126, 127) and reason != "OOMKilled":
            add(C.INVALID_COMMAND, 0.75, f"Container {c.name} of pod {ns}/{name} exits {code} "
                f"({'command not found' if code == 127 else 'command not executable'}).",
                [ev(ended_field, ended_line), ev(f"{src}/spec.containers[{c.name}].command", f"command={c.spec.get('command')}")],
                _command_recs(ns, name, owner, c))
            return findings
        if reason != "OOMKilled":  # the kernel's verdict is direct; log noise cannot outrank it
            findings.extend(log_causes(ctx, pod, c, logs, symptom, depth, priority))
        liveness = [e for e in events if patterns.search("liveness_event", e.get("message") or "") and _near(e, ended)]
        if reason == "OOMKilled":
            findings.append(_oom(facts, pod, src, c, ended_field, ended_line, restarts_ev, 0.95))
        elif liveness:
            add(C.LIVENESS_PROBE_FAILURE, 0.9,
                f"Container {c.name} of pod {ns}/{name} is killed and restarted by its liveness probe "
                f"(exit {code} after failed probes), not by a crash of its own.",
                [ev(ended_field, ended_line)] + [ev(k8s.event_source(e), k8s.event_line(e), "event") for e in liveness[-2:]] + [restarts_ev],
                _probe_recs(ns, name, owner, c, "livenessProbe" if c.spec.get("livenessProbe") or not c.spec.get("startupProbe") else "startupProbe"),
                summary=f"{label} is killed by its liveness probe ({(liveness[-1].get('message') or '')[:100]})")
        elif code == 137:
            findings.append(_oom(facts, pod, src, c, ended_field, ended_line, restarts_ev, 0.6))
        for source, text in logs:
            ro = patterns.lines("readonly_fs", text, limit=1)
            if ro and (c.spec.get("securityContext") or {}).get("readOnlyRootFilesystem"):
                add(C.SECURITY_CONTEXT_VIOLATION, 0.85,
                    f"Container {c.name} of pod {ns}/{name} crashes writing to its read-only root filesystem.",
                    [ev(ended_field, ended_line), ev(source, ro[0].line, "log"),
                     ev(f"{src}/spec.containers[{c.name}].securityContext", "readOnlyRootFilesystem=true")],
                    [rec("Give the process a writable emptyDir for the path it writes", f"kubectl -n {ns} get {owner} -o yaml")])
        errors = [(s, h.line) for s, text in logs for h in patterns.lines("error_line", text, limit=2)]
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
            else [rec("Read the crashed container's log", f"kubectl -n {ns} logs {name} -c {c.name} --previous")],
            summary=f"{symptom.finding}" + (f": {errors[-1][1][:140]}" if errors else ""))
        return findings

    # --- running but unhealthy --------------------------------------------------------------------------
    if c.running is not None and c.init and k8s.pod_phase(pod) == "Pending":
        symptom = Link(src, f"init {label} has not completed (running since {c.running.get('startedAt', '?')})",
                       [ev(f"{field}.state.running", f"running since {c.running.get('startedAt', '?')}, "
                                                     f"pod phase Pending")])
        causes = log_causes(ctx, pod, c, logs, symptom, depth, priority)
        findings.extend(causes)
        if not causes:
            findings.append(Finding(C.APPLICATION_CRASH, 0.5, f"Init container {c.name} of pod {ns}/{name} has not "
                                    "completed, so the app containers never start.", symptom.evidence,
                                    [rec("Read what the init container waits for", f"kubectl -n {ns} logs {name} -c {c.name}")],
                                    container=c.name, resource=src, summary=symptom.finding))
        return findings
    if c.running is not None and not c.init:
        liveness = [e for e in events if patterns.search("liveness_event", e.get("message") or "")]
        readiness = [e for e in events if patterns.search("readiness_event", e.get("message") or "")]
        if liveness and c.restarts and not (last and is_stale):
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
                                    evidence, _probe_recs(ns, name, owner, c, "readinessProbe"), container=c.name,
                                    resource=src, summary=f"{label} runs but is not ready"
                                    + (f" ({(readiness[-1].get('message') or '')[:100]})" if readiness else "")))
            symptom = Link(src, f"{label} runs but is not ready", evidence[:2])
            findings.extend(log_causes(ctx, pod, c, logs, symptom, depth, priority))
    return findings


def _near(event: k8s.Obj, ended: k8s.Obj) -> bool:
    """A probe event belongs to this termination when it happened in the 30 minutes before it (or just after)."""
    t, finished = k8s.event_time(event), k8s.parse_time(ended.get("finishedAt"))
    if not t or not finished:
        return True
    return -1800 <= (t - finished).total_seconds() <= 120


def _oom(facts, pod: k8s.Obj, src: str, c: k8s.ContainerView, ended_field: str, ended_line: str,
         restarts_ev, confidence: float) -> Finding:
    ns, name = pod_key(pod)
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
                   + (f"; usage {usage}" if usage else "") + ".", evidence, recs, container=c.name, resource=src,
                   summary=f"container {c.name} of pod {ns}/{name} is OOMKilled (memory limit {limit or 'none'})"
                   if sure else f"container {c.name} of pod {ns}/{name} is SIGKILLed (exit 137; memory limit {limit or 'none'})")


def _usage(facts, ns: str, pod: str, container: str) -> str:
    for m in facts.pod_metrics.get(ns, []):
        if k8s.name_of(m) == pod:
            for cm in m.get("containers") or []:
                if cm.get("name") == container:
                    return (cm.get("usage") or {}).get("memory", "")
    return ""


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
