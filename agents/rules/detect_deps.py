"""What a failing container's log (or its env and command) names, followed to the next resource.

From the latest failure line of a container's log:
  - a refused or timed-out connection to host:port → the Service → its Endpoints → the worst backing pod,
    explained in turn by detect_pod (a dead dependency is `dependency_failure`; a Service whose selector
    matches no pod is `service_selector_mismatch`; a healthy Service that times out → a NetworkPolicy);
  - a failed or timed-out name lookup → the cluster DNS Service and its pods (explained in turn: dead
    cluster DNS is `dns_failure`), or, when DNS is healthy, an egress NetworkPolicy (timeouts) or a Service
    that does not exist (no such host);
  - "No space left on device" → the claim the pod mounts (the volume is full).
"""

from __future__ import annotations

import re

from agents.rules import k8s, patterns
from agents.rules.context import PATH, SUPPORT, Ctx
from agents.rules.finding import Finding, Link, choose, ev, through
from agents.rules.fixes import rec
from agents.rules.observations import call
from schemas.result import ProblemCategory as C, RiskLevel

LOG_CAUSES = ("dns_timeout", "dns_not_found", "conn_refused", "conn_timeout", "disk_full")
CLUSTER_DNS = ("kube-system", "kube-dns")
_IP_PORT = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}:(\d{2,5})\b")
NODE_LOCAL_DNS = ("kube-system", "k8s-app=node-local-dns")
DNS_PODS = ("kube-system", "k8s-app=kube-dns")
MAX_CAUSES = 2  # distinct failure lines followed per container (the latest first)


def _latest_causes(text: str) -> list[patterns.Hit]:
    """The latest lines naming a cause, newest first, one per distinct (group, host:port)."""
    out: list[patterns.Hit] = []
    seen: set[tuple] = set()
    for line in reversed(text.splitlines()):
        for group in LOG_CAUSES:  # DNS before connections: a lookup timeout on :53 also says "i/o timeout"
            hit = patterns.search(group, line)
            if hit:
                ident = (group, hit.get("host"), tuple((h.get("host"), h.get("port")) for h in patterns.search_all("endpoint", line)))
                if ident not in seen:
                    seen.add(ident)
                    out.append(hit)
                break
        if len(out) >= MAX_CAUSES:
            break
    return out


def log_causes(ctx: Ctx, pod: k8s.Obj, c: k8s.ContainerView, logs: list[tuple[str, str]], symptom: Link, depth: int,
               priority: int = PATH) -> list[Finding]:
    findings: list[Finding] = []
    for source, text in logs:
        for hit in _latest_causes(text):
            if hit.group in ("dns_timeout", "dns_not_found"):
                findings += explain_dns(ctx, pod, c, source, hit, symptom, depth, priority)
            elif hit.group == "disk_full":
                findings += _disk_full(ctx, pod, c, source, hit, symptom, priority)
            else:
                findings += explain_connection(ctx, pod, c, source, hit, symptom, depth, priority)
        if findings:
            break  # the previous log (the crash) explains it; the current one is a newer attempt
    if not findings and c.init:
        findings += _named_in_spec(ctx, pod, c, symptom, depth, priority)
    return findings


# --- dependencies ---------------------------------------------------------------------------------------------

def _endpoints_in(ctx: Ctx, pod: k8s.Obj, c: k8s.ContainerView, line: str) -> list[tuple[str, int | None, str]]:
    """(host, port, how) the failing line names; when it only has an IP, the container's env may name it."""
    found: list[tuple[str, int | None, str]] = []
    ports = [int(p) for p in _IP_PORT.findall(line)]  # the dialled address (not a timestamp's minutes)
    for h in patterns.search_all("endpoint", line):
        host, port = h.get("host"), h.get("port")
        if host and not k8s.is_ip(host) and host not in ("localhost", "http", "https", "tcp", "udp"):
            number = int(port) if port.isdigit() else (ports[0] if ports else None)  # "host=db … dial tcp ip:5432"
            if not any(f[0] == host for f in found):
                found.append((host, number, "log"))
    if found:
        return found
    env = k8s.env_endpoints(c.spec)
    by_port = [(h, p, f"env {name}") for h, p, name in env if p in set(ports)]
    if by_port:
        return by_port
    return [(h, p, f"env {name}") for h, p, name in env][:1] if len(env) == 1 else []


def explain_connection(ctx: Ctx, pod: k8s.Obj, c: k8s.ContainerView, source: str, hit: patterns.Hit, symptom: Link,
                       depth: int, priority: int = PATH) -> list[Finding]:
    facts = ctx.facts
    ns = k8s.meta(pod, "namespace") or "default"
    refused = hit.group == "conn_refused"
    named = [(hit.get("host"), int(hit.get("port")) if hit.get("port").isdigit() else None, "log")] \
        if hit.get("host") and not k8s.is_ip(hit.get("host")) else []  # the failure wording itself names the peer
    for host, port, how in named or _endpoints_in(ctx, pod, c, hit.line):
        peer = f"{host}:{port}" if port else host
        conn = Link(f"connection/{peer}", f"{peer} {'refused the connection' if refused else 'did not answer (timeout)'}",
                    [ev(source, hit.line, "log")] + ([ev(f"{symptom.resource}/spec.containers[{c.name}].env", f"{how} names {peer}")]
                                                     if how != "log" else []))
        svc = k8s.service_of_host(host, ns)
        if svc is None:
            return [Finding(C.DEPENDENCY_FAILURE, 0.65,
                            f"Container {c.name} of pod {ns}/{k8s.name_of(pod)} cannot reach {peer}, outside the cluster.",
                            [*symptom.evidence, *conn.evidence],
                            [rec(f"Check {peer} is up and reachable from the cluster (egress, firewall, credentials)",
                                 f"kubectl -n {ns} logs {k8s.name_of(pod)} -c {c.name} --previous")],
                            container=c.name, resource=symptom.resource, chain=[symptom, conn])]
        info = facts.services.get(svc)
        if info is None:
            ctx.want(call("get_service", f"the log shows {peer} failing: does {svc[1]} have ready endpoints",
                          namespace=svc[0], name=svc[1]), priority)
            continue
        return _through_service(ctx, pod, c, svc, info, port, refused, symptom, conn, depth, priority)
    return []


def _through_service(ctx: Ctx, pod: k8s.Obj, c: k8s.ContainerView, svc: tuple[str, str], info: dict, port: int | None,
                     refused: bool, symptom: Link, conn: Link, depth: int, priority: int) -> list[Finding]:
    from agents.rules.detect_infra import netpol_blocking, service_findings
    from agents.rules.detect_pod import explain_pod, worst_first

    facts = ctx.facts
    ns, pod_name = k8s.meta(pod, "namespace") or "default", k8s.name_of(pod)
    service, endpoints = info.get("service"), info.get("endpoints")
    svc_ref = f"service/{svc[0]}/{svc[1]}"
    who = f"Container {c.name} of pod {ns}/{pod_name}"
    if service is None:
        link = Link(svc_ref, f"Service {svc[0]}/{svc[1]} does not exist", [ev(svc_ref, "not found")])
        return [Finding(C.DEPENDENCY_FAILURE, 0.75, f"{who} cannot connect to {conn.resource[11:]}: service {svc[1]} "
                        f"does not exist in namespace {svc[0]}.", [*symptom.evidence, *conn.evidence, *link.evidence],
                        [rec(f"Deploy or fix the name of the dependency {svc[1]}", f"kubectl -n {svc[0]} get services")],
                        container=c.name, resource=symptom.resource, chain=[symptom, conn, link])]
    ready, not_ready = k8s.endpoints_ready(endpoints), k8s.endpoints_not_ready(endpoints)
    selector = (service.get("spec") or {}).get("selector") or {}
    sel = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    svc_link = Link(svc_ref, f"Service {svc[0]}/{svc[1]} has {ready} ready endpoints ({not_ready} not ready)",
                    [ev(f"endpoints/{svc[0]}/{svc[1]}", f"{ready} ready addresses, {not_ready} not ready")])
    own_recs = [rec("Make the app wait for its dependency instead of crashing (startup retry / init container)",
                    f"kubectl -n {svc[0]} describe service {svc[1]}", priority=3)]
    if ready == 0:
        matching = info.get("matching_pods") or []
        if selector and not matching:
            if svc[0] not in facts.namespace_pods:
                ctx.want(call("list_pods", "the dependency's selector matches no pod: which labels do the pods have",
                              namespace=svc[0]), priority)
            deeper = choose(service_findings(facts, svc[0], svc[1]))
            if deeper and deeper.confidence >= 0.9:  # pods with nearly those labels exist: the selector is wrong
                return [through([symptom, conn], deeper, category=C.SERVICE_SELECTOR_MISMATCH, confidence=0.9,
                                description=f"{who} cannot reach its dependency {svc[1]}: {deeper.description}",
                                recommendations=own_recs, container=c.name)]
        bad = worst_first(matching)
        if bad:
            deeper = choose(explain_pod(ctx, bad[0], depth + 1, role="dependency", priority=priority))
            if deeper and deeper.confidence >= 0.5:
                return [through([symptom, conn, svc_link], deeper, category=C.DEPENDENCY_FAILURE, confidence=0.9,
                                description=f"{who} fails because its dependency {svc[1]} ({conn.resource[11:]}) is down: "
                                            f"Service {svc[0]}/{svc[1]} has no ready endpoints and "
                                            f"{deeper.description[0].lower()}{deeper.description[1:]}",
                                recommendations=own_recs, container=c.name)]
        return [Finding(C.DEPENDENCY_FAILURE, 0.9,
                        f"{who} fails because its dependency {svc[1]} refuses connections ({conn.resource[11:]}): "
                        f"service {svc[0]}/{svc[1]} has no ready endpoints.",
                        [*symptom.evidence, *conn.evidence, *svc_link.evidence],
                        [rec("Diagnose the dependency's pods first", f"kubectl -n {svc[0]} get pods -l {sel}" if sel
                             else f"kubectl -n {svc[0]} get endpoints {svc[1]}")] + own_recs,
                        container=c.name, resource=symptom.resource, chain=[symptom, conn, svc_link])]
    # the dependency has ready endpoints
    if not refused:
        client_labels = k8s.meta(pod, "labels", {}) or {}
        if svc[0] not in facts.netpols:
            ctx.want(call("list_network_policies", f"{svc[1]} is up but does not answer: is traffic to it denied",
                          namespace=svc[0]), priority)
        blocked = netpol_blocking(facts.netpols.get(svc[0], []), info.get("matching_pods") or [], client_labels, ns,
                                  port, direction="ingress")
        if blocked is None and ns != svc[0]:
            if ns not in facts.netpols:
                ctx.want(call("list_network_policies", "is this pod's egress denied", namespace=ns), SUPPORT)
            blocked = netpol_blocking(facts.netpols.get(ns, []), [pod], {}, svc[0], port, direction="egress")
        if blocked is not None:
            np_ns, np_name, why = blocked
            link = Link(f"networkpolicy/{np_ns}/{np_name}", f"NetworkPolicy {np_ns}/{np_name} {why}",
                        [ev(f"networkpolicy/{np_ns}/{np_name}/spec", why)])
            return [Finding(C.DEPENDENCY_FAILURE, 0.85,
                            f"{who} cannot reach {svc[1]} ({conn.resource[11:]}) although it has {ready} ready endpoints: "
                            f"NetworkPolicy {np_ns}/{np_name} {why}.",
                            [*symptom.evidence, *conn.evidence, *svc_link.evidence, *link.evidence],
                            [rec("Allow this client in the policy (read it first)", f"kubectl -n {np_ns} get networkpolicy {np_name} -o yaml"),
                             rec("Add an ingress rule for the client's labels", f"kubectl -n {np_ns} edit networkpolicy {np_name}",
                                 RiskLevel.MEDIUM, priority=2)],
                            container=c.name, resource=symptom.resource, chain=[symptom, conn, svc_link, link])]
    target_port = _port_mismatch(service, info.get("matching_pods") or [], port)
    if refused and target_port:
        link = Link(svc_ref, f"Service {svc[0]}/{svc[1]} sends port {port} to targetPort {target_port[0]}, which its pods "
                             f"do not expose (they listen on {target_port[1]})",
                    [ev(f"{svc_ref}/spec.ports", f"port {port} → targetPort {target_port[0]}; pod ports {target_port[1]}")])
        return [Finding(C.DEPENDENCY_FAILURE, 0.8, f"{who} is refused by {svc[1]}: {link.finding}.",
                        [*symptom.evidence, *conn.evidence, *link.evidence],
                        [rec("Point the Service's targetPort at the port the pods listen on",
                             f"kubectl -n {svc[0]} edit service {svc[1]}", RiskLevel.MEDIUM)],
                        container=c.name, resource=symptom.resource, chain=[symptom, conn, link])]
    return [Finding(C.DEPENDENCY_FAILURE, 0.5,
                    f"{who} saw connection errors to {svc[1]}, which has {ready} ready endpoints (intermittent?).",
                    [*symptom.evidence, *conn.evidence, *svc_link.evidence],
                    [rec("Check the dependency's health", f"kubectl -n {svc[0]} get endpoints {svc[1]}")],
                    container=c.name, resource=symptom.resource, chain=[symptom, conn, svc_link])]


def _port_mismatch(service: k8s.Obj, pods: list[k8s.Obj], port: int | None) -> tuple[str, str] | None:
    """(targetPort, the pods' ports) when the Service's targetPort for `port` is none of its pods' ports."""
    if not port or not pods:
        return None
    for p in (service.get("spec") or {}).get("ports") or []:
        if p.get("port") != port:
            continue
        target = p.get("targetPort", port)
        exposed = {(cp.get("containerPort"), cp.get("name")) for pod in pods
                   for c in (pod.get("spec") or {}).get("containers") or [] for cp in c.get("ports") or []}
        if not exposed:
            return None
        if any(target in (num, name) for num, name in exposed):
            return None
        return str(target), ", ".join(str(num) for num, _ in sorted(exposed, key=lambda x: x[0] or 0))
    return None


def _named_in_spec(ctx: Ctx, pod: k8s.Obj, c: k8s.ContainerView, symptom: Link, depth: int, priority: int) -> list[Finding]:
    """An init container that waits forever ('until nc -z db 5432') names its dependency in its command."""
    words = " ".join(str(x) for x in (c.spec.get("command") or []) + (c.spec.get("args") or []))
    ns = k8s.meta(pod, "namespace") or "default"
    source = f"{symptom.resource}/spec.initContainers[{c.name}].command"
    dns = patterns.search("wait_dns", words)
    if dns:
        hit = patterns.Hit(dns.id, "dns_not_found", words[:200], {"host": dns.get("host")})
        return [f for f in explain_dns(ctx, pod, c, source, hit, symptom, depth, priority) if f.confidence >= 0.6]
    tcp = patterns.search("wait_tcp", words)
    if not tcp or tcp.get("host") in ("localhost", "ping", "true"):
        return []
    host, port = tcp.get("host"), int(tcp.get("port")) if tcp.get("port") else None
    svc = k8s.service_of_host(host, ns)
    if not svc:
        return []
    info = ctx.facts.services.get(svc)
    if info is None:
        ctx.want(call("get_service", f"the init container waits for {host}: is it up", namespace=svc[0], name=svc[1]),
                 priority)
        return []
    peer = f"{host}:{port}" if port else host
    conn = Link(f"connection/{peer}", f"init container {c.name} waits for {peer}", [ev(source, words[:300])])
    return [f for f in _through_service(ctx, pod, c, svc, info, port, True, symptom, conn, depth, priority)
            if f.confidence >= 0.6]


def _disk_full(ctx: Ctx, pod: k8s.Obj, c: k8s.ContainerView, source: str, hit: patterns.Hit, symptom: Link,
               priority: int) -> list[Finding]:
    from agents.rules.detect_pod import pod_key

    facts = ctx.facts
    ns, name = pod_key(pod)
    log_link = Link(f"{symptom.resource}/{c.name}", f"container {c.name} writes fail: {hit.line[:140]}",
                    [ev(source, hit.line, "log")])
    mounts = {m.get("name"): m.get("mountPath") for m in c.spec.get("volumeMounts") or []}
    claims = [(v.get("name"), v["persistentVolumeClaim"]["claimName"]) for v in (pod.get("spec") or {}).get("volumes") or []
              if (v.get("persistentVolumeClaim") or {}).get("claimName") and (not mounts or v.get("name") in mounts)]
    if not claims:
        return [Finding(C.APPLICATION_CRASH, 0.8, f"Container {c.name} of pod {ns}/{name} crashes because its disk is "
                        f"full: {hit.line[:160]}", [*symptom.evidence, *log_link.evidence],
                        [rec("Find what fills the container's filesystem (logs, temp files) and give it a volume",
                             f"kubectl -n {ns} describe pod {name}")],
                        container=c.name, resource=symptom.resource, chain=[symptom, log_link])]
    volume, claim = claims[0]
    info = facts.pvcs.get((ns, claim))
    if info is None:
        ctx.want(call("get_pvc", "the container's volume is full: its claim and size", namespace=ns, name=claim), priority)
    pvc = (info or {}).get("pvc") or {}
    size = ((pvc.get("status") or {}).get("capacity") or {}).get("storage") or \
        (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", "?")
    sc = (info or {}).get("storageclass") or {}
    expandable = sc.get("allowVolumeExpansion")
    pvc_link = Link(f"pvc/{ns}/{claim}", f"claim {ns}/{claim} (mounted at {mounts.get(volume, '?')}) is full at {size}",
                    [ev(f"pvc/{ns}/{claim}/status.capacity", f"capacity={size} storageClass={(pvc.get('spec') or {}).get('storageClassName', '?')}"
                        + (f" allowVolumeExpansion={expandable}" if sc else ""))] if info else [])
    bigger = _double(size)
    recs = [rec(f"Expand claim {claim} (its storage class {'allows' if expandable else 'must allow'} volume expansion)",
                f"kubectl -n {ns} patch pvc {claim} -p '{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"{bigger}\"}}}}}}}}'",
                RiskLevel.MEDIUM),
            rec("Find what fills the volume (WAL, binlogs, retention)", f"kubectl -n {ns} logs {name} -c {c.name} --previous",
                priority=2)]
    chain = [symptom, log_link, pvc_link]
    return [Finding(C.VOLUME_MOUNT_FAILURE, 0.88, f"Container {c.name} of pod {ns}/{name} crashes because its volume "
                    f"(claim {claim}, {size}) is full: {hit.line[:140]}", [e for link in chain for e in link.evidence],
                    recs, container=c.name, resource=symptom.resource, chain=chain)]


def _double(size: str) -> str:
    q = k8s.parse_quantity(size)
    return k8s.format_memory(q * 2) if q else "<larger size>"


# --- cluster DNS ----------------------------------------------------------------------------------------------------

def cluster_dns(ctx: Ctx, priority: int = PATH) -> tuple[tuple[str, str], dict] | None:
    """The cluster DNS Service (kube-system/kube-dns, else a kube-system Service on port 53) and its facts."""
    facts = ctx.facts
    info = facts.services.get(CLUSTER_DNS)
    if info is None:
        ctx.want(call("get_service", "names do not resolve: is cluster DNS up (Service kube-dns, its endpoints and pods)",
                      namespace=CLUSTER_DNS[0], name=CLUSTER_DNS[1]), priority)
        return None
    if info.get("service") is not None:
        return CLUSTER_DNS, info
    listed = facts.service_lists.get("kube-system")
    if listed is None:
        ctx.want(call("list_services", "no kube-dns Service: find the cluster DNS Service by port 53",
                      namespace="kube-system"), priority)
        return None
    for s in listed:
        if any(p.get("port") == 53 for p in (s.get("spec") or {}).get("ports") or []):
            key = ("kube-system", k8s.name_of(s))
            if key not in facts.services:
                ctx.want(call("get_service", "the cluster DNS Service, its endpoints and pods", namespace=key[0],
                              name=key[1]), priority)
                return None
            return key, facts.services[key]
    # no DNS Service in the data: the DNS pods by their conventional label
    keys = facts.selected_pods.get(DNS_PODS)
    if keys is None:
        ctx.want(call("list_pods", "no cluster DNS Service found: are the DNS pods up", namespace=DNS_PODS[0],
                      label_selector=DNS_PODS[1]), priority)
        return None
    pods = [facts.pods[k] for k in keys if k in facts.pods]
    healthy = [p for p in pods if not k8s.pod_unhealthy(p)]
    return ("kube-system", "kube-dns"), {"service": None, "matching_pods": pods,
                                         "endpoints": {"subsets": [{"addresses": [{} for _ in healthy]}]} if healthy else None}


def explain_dns(ctx: Ctx, pod: k8s.Obj, c: k8s.ContainerView, source: str, hit: patterns.Hit, symptom: Link, depth: int,
                priority: int = PATH) -> list[Finding]:
    from agents.rules.detect_infra import netpol_blocking
    from agents.rules.detect_pod import explain_pod, worst_first

    facts = ctx.facts
    ns, name = k8s.meta(pod, "namespace") or "default", k8s.name_of(pod)
    host, server = hit.get("host"), hit.get("server")
    timeout = hit.group == "dns_timeout"
    who = f"Container {c.name} of pod {ns}/{name}"
    lookup = Link(f"dns/{host or '?'}", f"lookup of {host or 'a name'}" + (f" on {server}" if server else "")
                  + (" timed out" if timeout else " found no such host"), [ev(source, hit.line, "log")])
    base_recs = [rec("Check cluster DNS", "kubectl -n kube-system get pods -l k8s-app=kube-dns -o wide")]

    def finding(confidence: float, description: str, links: list[Link], recs: list, deeper: Finding | None = None) -> Finding:
        if deeper is not None:
            return through([symptom, lookup] + links, deeper, category=C.DNS_FAILURE, confidence=confidence,
                           description=description, recommendations=recs, container=c.name)
        chain = [symptom, lookup] + links
        evidence = [e for link in chain for e in link.evidence]
        return Finding(C.DNS_FAILURE, confidence, description, evidence, recs, container=c.name,
                       resource=symptom.resource, chain=chain)

    if server.startswith("169.254."):  # NodeLocal DNSCache: the cache on this pod's node answers
        local = facts.selected_pods.get(NODE_LOCAL_DNS)
        if local is None:
            ctx.want(call("list_pods", "lookups go to the node-local DNS cache: is it up on this node",
                          namespace=NODE_LOCAL_DNS[0], label_selector=NODE_LOCAL_DNS[1]), priority)
        else:
            node = (pod.get("spec") or {}).get("nodeName")
            here = [facts.pods[k] for k in local if k in facts.pods
                    and (facts.pods[k].get("spec") or {}).get("nodeName") == node]
            bad = worst_first(here)
            link = Link(f"pods/kube-system?{NODE_LOCAL_DNS[1]}", f"node-local DNS cache on node {node}: "
                        f"{len(here) - len(bad)}/{len(here)} pods ready",
                        [ev(f"pods/kube-system?{NODE_LOCAL_DNS[1]}", f"{len(here) - len(bad)}/{len(here)} node-local DNS "
                            f"pods ready on node {node}")])
            if bad:
                deeper = choose(explain_pod(ctx, bad[0], depth + 1, role="node-local DNS", priority=priority))
                return [finding(0.95, f"{who} fails because name lookups time out: the node-local DNS cache on node "
                                      f"{node} is down.", [link],
                                base_recs + [rec("Restart the node-local DNS pod on that node",
                                                 f"kubectl -n kube-system delete pod {k8s.name_of(bad[0])}", RiskLevel.MEDIUM,
                                                 priority=2)], deeper)]
    dns = cluster_dns(ctx, priority)
    if dns is None:
        return [finding(0.85 if not timeout else 0.8, f"{who} fails because a name does not resolve"
                        + (f" ({host})" if host else "") + ".", [], base_recs)]
    key, info = dns
    ready = k8s.endpoints_ready(info.get("endpoints"))
    pods = info.get("matching_pods") or []
    bad = worst_first(pods)
    svc_link = Link(f"service/{key[0]}/{key[1]}", f"cluster DNS Service {key[0]}/{key[1]} has {ready} ready endpoints "
                    f"({len(pods) - len(bad)}/{len(pods)} DNS pods ready)",
                    [ev(f"endpoints/{key[0]}/{key[1]}", f"{ready} ready addresses"),
                     ev("pods/kube-system?k8s-app=kube-dns", f"{len(pods) - len(bad)}/{len(pods)} cluster DNS pods ready")])
    if ready == 0 or (pods and len(bad) == len(pods)):
        deeper = choose(explain_pod(ctx, bad[0], depth + 1, role="cluster DNS", priority=priority)) if bad else None
        recs = base_recs + [rec("Restart cluster DNS once its cause is fixed",
                                "kubectl -n kube-system rollout restart deployment/coredns", RiskLevel.MEDIUM, priority=2)]
        return [finding(0.95, f"{who} fails because name lookups fail"
                        + (f" ({host})" if host else "") + ": cluster DNS has no ready pod"
                        + (f"; {deeper.description[0].lower()}{deeper.description[1:]}" if deeper else "."),
                        [svc_link], recs, deeper if deeper and deeper.confidence >= 0.5 else None)]
    # cluster DNS is up
    if timeout:
        if ns not in facts.netpols:
            ctx.want(call("list_network_policies", "cluster DNS is up but lookups time out: is egress to port 53 denied",
                          namespace=ns), priority)
        blocked = netpol_blocking(facts.netpols.get(ns, []), [pod], {}, "kube-system", 53, direction="egress")
        if blocked is not None:
            np_ns, np_name, why = blocked
            link = Link(f"networkpolicy/{np_ns}/{np_name}", f"NetworkPolicy {np_ns}/{np_name} {why}",
                        [ev(f"networkpolicy/{np_ns}/{np_name}/spec", why)])
            return [finding(0.9, f"{who} fails because its DNS lookups time out: NetworkPolicy {np_ns}/{np_name} {why}, "
                                 "while cluster DNS itself is healthy.", [svc_link, link],
                            [rec("Allow DNS egress (UDP and TCP 53 to kube-system) in the policy",
                                 f"kubectl -n {np_ns} get networkpolicy {np_name} -o yaml"),
                             rec("Add an egress rule for port 53", f"kubectl -n {np_ns} edit networkpolicy {np_name}",
                                 RiskLevel.MEDIUM, priority=2)])]
        if ns in facts.netpols:
            return [finding(0.7, f"{who} fails because DNS lookups time out although cluster DNS has {ready} ready "
                                 "endpoints (node network, kube-proxy or an upstream resolver?).", [svc_link],
                            base_recs + [rec("Check kube-proxy and the node's network",
                                             "kubectl -n kube-system get pods -l k8s-app=kube-proxy -o wide", priority=2)])]
        return []
    # no such host, DNS healthy: does the name exist?
    svc = k8s.service_of_host(host, ns) if host else None
    if svc is None:
        return [finding(0.8, f"{who} fails because the name {host or '?'} does not resolve (outside the cluster; cluster DNS "
                             "is healthy).", [svc_link],
                        base_recs + [rec("Check the name and the upstream resolvers CoreDNS forwards to",
                                         "kubectl -n kube-system get configmap coredns -o yaml", priority=2)])]
    known = facts.services.get(svc)
    if known is None:
        ctx.want(call("get_service", f"{host} does not resolve: does service {svc[1]} exist in {svc[0]}",
                      namespace=svc[0], name=svc[1]), priority)
        return [finding(0.85, f"{who} fails because the name {host} does not resolve.", [svc_link], base_recs)]
    if known.get("service") is None:
        link = Link(f"service/{svc[0]}/{svc[1]}", f"Service {svc[0]}/{svc[1]} does not exist",
                    [ev(f"service/{svc[0]}/{svc[1]}", "not found")])
        return [finding(0.9, f"{who} fails because the name {host} does not resolve: service {svc[1]} does not exist in "
                             f"namespace {svc[0]} (cluster DNS is healthy).", [svc_link, link],
                        [rec(f"Create the service {svc[1]} or fix the host name the app uses (a service in another "
                             "namespace needs <name>.<namespace>)", f"kubectl -n {svc[0]} get services")])]
    return [finding(0.7, f"{who} fails because the name {host} does not resolve although service {svc[1]} exists.",
                    [svc_link], base_recs)]
