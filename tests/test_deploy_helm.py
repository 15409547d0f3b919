"""The Helm chart, rendered and linted by the real `helm` (built by deploy/tools/install-helm.sh), checked as
Kubernetes objects: every manifest round-trips through the Kubernetes API models (a misspelt or misplaced field
is dropped by the model and shows up as a difference), the ClusterRole is read-only and nothing more, every
Deployment is probed, limited and locked down, and the rendered Settings file is one our own Settings accepts.

Renders the default values and deploy/helm/aetherius/ci/all-values.yaml (every optional part switched on).
Skipped, with the install command, when helm is not installed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "aetherius"
ALL_VALUES = CHART / "ci" / "all-values.yaml"
INSTALL = "bash deploy/tools/install-helm.sh"


def _find_helm() -> str | None:
    found = shutil.which("helm")
    if found:
        return found
    gopath = os.environ.get("GOPATH") or str(Path.home() / "go")
    candidate = Path(gopath) / "bin" / "helm"
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


HELM = _find_helm()
pytestmark = pytest.mark.skipif(HELM is None, reason=f"helm is not installed: run `{INSTALL}` (needs Go and the Go module proxy)")

# What the reader ClusterRole may grant - exactly this, nothing else (apiGroup, resource).
ALLOWED_RESOURCES = {
    ("", r) for r in ("pods", "pods/log", "events", "services", "endpoints", "nodes", "namespaces",
                      "persistentvolumeclaims", "persistentvolumes", "resourcequotas", "limitranges")
} | {("apps", r) for r in ("deployments", "replicasets", "statefulsets", "daemonsets", "controllerrevisions")} | {
    ("batch", "jobs"), ("batch", "cronjobs"), ("autoscaling", "horizontalpodautoscalers"),
    ("storage.k8s.io", "storageclasses"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("metrics.k8s.io", "pods"), ("metrics.k8s.io", "nodes"),
}
READ_VERBS = {"get", "list", "watch"}
HTTP_ROLES = {"webhook", "worker", "sink"}  # the roles that serve /health/live, /health/ready and /metrics


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert HELM is not None
    result = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@lru_cache(maxsize=None)
def _render(values: str | None) -> tuple[dict[str, Any], ...]:
    args = ["template", "rel", str(CHART), "--namespace", "aetherius"]
    if values:
        args += ["-f", values]
    docs = [d for d in yaml.safe_load_all(helm(*args).stdout) if d]
    assert docs, "the chart rendered nothing"
    return tuple(docs)


RENDERS = {"default": None, "all": str(ALL_VALUES)}


@pytest.fixture(params=sorted(RENDERS))
def manifests(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return list(_render(RENDERS[request.param]))


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def role_of(doc: dict[str, Any]) -> str:
    return doc["metadata"]["labels"]["app.kubernetes.io/component"]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


# ------------------------------------------------------------------------------------------------ lint/render

@pytest.mark.parametrize("values", sorted(RENDERS))
def test_helm_lint_strict(values: str) -> None:
    args = ["lint", str(CHART), "--strict"]
    if RENDERS[values]:
        args += ["-f", RENDERS[values]]
    out = helm(*args).stdout
    assert "0 chart(s) failed" in out


def test_every_role_rendered_when_enabled() -> None:
    default = {role_of(d) for d in of_kind(list(_render(None)), "Deployment")}
    everything = {role_of(d) for d in of_kind(list(_render(str(ALL_VALUES))), "Deployment")}
    assert default == {"webhook", "worker", "watch", "sink"}  # the gateway is opt-in (it needs a token)
    assert everything == default | {"gateway"}
    kinds = {d["kind"] for d in _render(str(ALL_VALUES))}
    assert {"ConfigMap", "Secret", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "NetworkPolicy",
            "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ServiceMonitor"} <= kinds


class _Response:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.data = json.dumps(doc)


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def test_manifests_are_valid_kubernetes_objects(manifests: list[dict[str, Any]]) -> None:
    """Deserialise each manifest into the API model of its kind and back: required fields are enforced, and a
    field the API does not have (a typo, a wrong nesting level) is dropped, so the round trip differs."""
    from kubernetes_asyncio import client
    from kubernetes_asyncio.client.configuration import Configuration

    api = client.ApiClient.__new__(client.ApiClient)  # no HTTP session: only the (de)serialiser is used
    api.configuration = Configuration()
    for doc in manifests:
        version = doc["apiVersion"].split("/")[-1]
        model = f"{version[0].upper()}{version[1:]}{doc['kind']}"
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):  # a CRD: no model in the client
            assert doc["spec"]["endpoints"] and doc["spec"]["selector"]["matchLabels"]
            continue
        assert hasattr(client.models, model), f"no Kubernetes model {model} for {doc['kind']} {doc['apiVersion']}"
        back = api.sanitize_for_serialization(api.deserialize(_Response(doc), model))
        original = _drop_nulls(json.loads(json.dumps(doc)))
        assert _drop_nulls(back) == original, f"{doc['kind']} {doc['metadata']['name']} has fields the API does not know"


# ------------------------------------------------------------------------------------------------ RBAC

def test_cluster_role_is_read_only_and_exactly_the_allowed_set(manifests: list[dict[str, Any]]) -> None:
    roles = of_kind(manifests, "ClusterRole") + of_kind(manifests, "Role")
    assert len(roles) == 1, "one reader ClusterRole, no other roles"
    granted: set[tuple[str, str]] = set()
    for rule in roles[0]["rules"]:
        verbs, groups, resources = set(rule["verbs"]), set(rule["apiGroups"]), set(rule["resources"])
        assert verbs <= READ_VERBS, f"write or special verb in {rule}"
        assert "*" not in verbs | groups | resources, f"wildcard in {rule}"
        assert "secrets" not in resources and "configmaps" not in resources, rule
        assert not rule.get("resourceNames") and not rule.get("nonResourceURLs"), rule
        for resource in resources:
            if "/" in resource:
                assert resource == "pods/log", f"subresource {resource} (exec/attach/portforward/proxy are forbidden)"
            granted |= {(group, resource) for group in groups}
        assert verbs == READ_VERBS, f"each rule grants get, list and watch together: {rule}"
    assert granted == ALLOWED_RESOURCES, (f"missing: {sorted(ALLOWED_RESOURCES - granted)}; "
                                          f"not allowed: {sorted(granted - ALLOWED_RESOURCES)}")


def test_binding_gives_the_reader_role_to_our_service_account_only(manifests: list[dict[str, Any]]) -> None:
    (role,) = of_kind(manifests, "ClusterRole")
    (binding,) = of_kind(manifests, "ClusterRoleBinding")
    (account,) = of_kind(manifests, "ServiceAccount")
    assert not of_kind(manifests, "RoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": "aetherius"}]
    assert account["automountServiceAccountToken"] is False  # each pod opts in below


def test_only_cluster_readers_mount_the_api_token(manifests: list[dict[str, Any]]) -> None:
    for deployment in of_kind(manifests, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is (role_of(deployment) in {"worker", "watch", "gateway"})


# ------------------------------------------------------------------------------------------------ workloads

def test_every_deployment_is_probed_limited_and_locked_down(manifests: list[dict[str, Any]]) -> None:
    deployments = of_kind(manifests, "Deployment")
    assert deployments
    for deployment in deployments:
        role, name = role_of(deployment), deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        c = container(deployment)
        assert c["args"][0] == role, name
        for probe in ("livenessProbe", "readinessProbe"):
            assert c.get(probe), f"{name}: no {probe}"
        if role in HTTP_ROLES:
            assert c["livenessProbe"]["httpGet"]["path"] == "/health/live", name
            assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready", name
        port_names = {p["name"] for p in c.get("ports", [])}
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            for handler in ("httpGet", "tcpSocket"):
                port = c.get(probe, {}).get(handler, {}).get("port")
                if isinstance(port, str):
                    assert port in port_names, f"{name}: {probe} names port {port!r} the container lacks"
        resources = c["resources"]
        assert resources["requests"]["cpu"] and resources["requests"]["memory"], name
        assert resources["limits"]["cpu"] and resources["limits"]["memory"], name
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] != 0, name
        assert security["seccompProfile"]["type"] == "RuntimeDefault", name
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True, name
        assert sc["allowPrivilegeEscalation"] is False and sc.get("privileged") is not True, name
        assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add"), name
        mounts = {m["mountPath"] for m in c["volumeMounts"]}
        assert {"/tmp", "/app/var", "/etc/aetherius/config.yaml"} <= mounts, f"{name}: writable dirs or config missing"


def test_services_and_pdbs_select_their_deployments(manifests: list[dict[str, Any]]) -> None:
    by_role = {role_of(d): d for d in of_kind(manifests, "Deployment")}
    for kind in ("Service", "PodDisruptionBudget", "NetworkPolicy"):
        covered = set()
        for doc in of_kind(manifests, kind):
            deployment = by_role[role_of(doc)]
            selector = doc["spec"]["selector"] if kind == "Service" else (
                doc["spec"]["selector"]["matchLabels"] if kind == "PodDisruptionBudget" else
                doc["spec"]["podSelector"]["matchLabels"])
            pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= pod_labels.items(), f"{kind} {doc['metadata']['name']} selects no pod"
            covered.add(role_of(doc))
        expected = set(by_role) if kind != "Service" else set(by_role) & (HTTP_ROLES | {"gateway"})
        assert covered == expected, f"{kind}: {sorted(expected - covered)} not covered"
    for service in of_kind(manifests, "Service"):
        c = container(by_role[role_of(service)])
        (port,) = service["spec"]["ports"]
        assert port["targetPort"] == "http" and {"name": "http", "containerPort": port["port"],
                                                  "protocol": "TCP"} in c["ports"]


def test_network_policy_admits_only_the_role_port(manifests: list[dict[str, Any]]) -> None:
    for policy in of_kind(manifests, "NetworkPolicy"):
        role = role_of(policy)
        assert "Ingress" in policy["spec"]["policyTypes"]
        rules = policy["spec"]["ingress"]
        if role == "watch":
            assert rules == [], "the watcher serves nothing"
            continue
        (rule,) = rules
        assert [p["port"] for p in rule["ports"]] == [{"webhook": 8080, "worker": 6066, "sink": 8081,
                                                        "gateway": 8765}[role]]
        assert rule["from"], "an empty `from` would admit everyone"


def test_worker_hpa_scales_on_queue_depth() -> None:
    docs = list(_render(str(ALL_VALUES)))
    (hpa,) = of_kind(docs, "HorizontalPodAutoscaler")
    worker = next(d for d in of_kind(docs, "Deployment") if role_of(d) == "worker")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": worker["metadata"]["name"]}
    assert "replicas" not in worker["spec"], "the HPA owns the replica count"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "External" and metric["external"]["metric"]["name"] == "aetherius_queue_depth"
    settings = yaml.safe_load(next(iter(of_kind(docs, "ConfigMap")))["data"]["config.yaml"])
    assert hpa["spec"]["maxReplicas"] <= settings["kafka"]["partitions"]
    # the metric the HPA asks for is one the worker really exports
    assert "aetherius_queue_depth" in (ROOT / "streams" / "pipeline.py").read_text()


# ------------------------------------------------------------------------------------------------ config/secrets

def _pod_env(deployment: dict[str, Any], secret: dict[str, Any] | None) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in container(deployment)["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in item.get("valueFrom", {}):
            ref = item["valueFrom"]["secretKeyRef"]
            value = ((secret or {}).get("stringData") or {}).get(ref["key"])
            if value is None:
                assert ref.get("optional") is True, f"required secret key {ref['key']} is missing"
                continue
            env[item["name"]] = value
        elif "fieldRef" in item.get("valueFrom", {}):
            env[item["name"]] = "10.0.0.7"  # status.podIP
    return env


def test_rendered_settings_load_in_every_pod(manifests: list[dict[str, Any]], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The ConfigMap plus each pod's env, through our own Settings model (extra="forbid": a wrong key fails)."""
    from schemas.settings import Settings

    (config_map,) = of_kind(manifests, "ConfigMap")
    config = tmp_path / "config.yaml"
    config.write_text(config_map["data"]["config.yaml"])
    secrets = of_kind(manifests, "Secret")
    for deployment in of_kind(manifests, "Deployment"):
        env = _pod_env(deployment, secrets[0] if secrets else None)
        with monkeypatch.context() as m:
            for name in list(os.environ):
                if name.startswith("AETHERIUS_") or name.startswith("OPENAI_"):
                    m.delenv(name)
            for name, value in env.items():
                m.setenv(name, value)
            m.setenv("AETHERIUS_CONFIG", str(config))
            settings = Settings()
        role = role_of(deployment)
        if role in HTTP_ROLES:
            port = {"webhook": settings.webhook.port, "worker": settings.worker.port,
                    "sink": settings.analytics.api_port}[role]
            assert {"name": "http", "containerPort": port, "protocol": "TCP"} in container(deployment)["ports"]
        assert settings.kafka.bootstrap == env["AETHERIUS_KAFKA__BOOTSTRAP"]
        if "AETHERIUS_WEBHOOK__BEARER_TOKEN" in env:  # the token from the Secret reached the bridge's settings
            assert settings.webhook.bearer_token.get_secret_value() == env["AETHERIUS_WEBHOOK__BEARER_TOKEN"]


def test_secret_values_stay_out_of_the_config_map() -> None:
    docs = list(_render(str(ALL_VALUES)))
    (config_map,) = of_kind(docs, "ConfigMap")
    (secret,) = of_kind(docs, "Secret")
    text = json.dumps(config_map)
    for key, value in secret["stringData"].items():
        assert value not in text, f"secret {key} leaked into the ConfigMap"
    assert json.loads(secret["stringData"]["api-keys"])[0]["role"] == "sre"  # lists travel as JSON env values
    for deployment in of_kind(docs, "Deployment"):
        names = {e["name"] for e in container(deployment)["env"]}
        if role_of(deployment) != "webhook":
            assert "AETHERIUS_WEBHOOK__BEARER_TOKEN" not in names
        if role_of(deployment) != "worker":
            assert "OPENAI_API_KEY" not in names


def test_existing_secret_is_referenced_not_created() -> None:
    docs = [d for d in yaml.safe_load_all(helm("template", "rel", str(CHART), "--set",
                                               "secrets.existingSecret=ops-aetherius").stdout) if d]
    assert not of_kind(docs, "Secret")
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for d in of_kind(docs, "Deployment")
            for e in container(d)["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    assert refs == {"ops-aetherius"}


def test_gateway_kubeconfig_loads_with_the_service_account_files(tmp_path: Path) -> None:
    """The in-cluster kubeconfig the gateway reads, loaded by kubernetes-asyncio with the SA paths redirected."""
    from kubernetes_asyncio import client, config

    (config_map,) = of_kind(list(_render(str(ALL_VALUES))), "ConfigMap")
    (tmp_path / "token").write_text("sa-token-123")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    text = config_map["data"]["incluster-kubeconfig"].replace("/var/run/secrets/kubernetes.io/serviceaccount",
                                                               str(tmp_path))
    (tmp_path / "kubeconfig").write_text(text)
    cfg = client.Configuration()
    asyncio.run(config.load_kube_config(config_file=str(tmp_path / "kubeconfig"), client_configuration=cfg,
                                        persist_config=False))
    assert cfg.host == "https://kubernetes.default.svc"
    assert cfg.api_key["BearerToken"] == "Bearer sa-token-123" or cfg.api_key.get("authorization") == "Bearer sa-token-123"


# ------------------------------------------------------------------------------------------------ guards

@pytest.mark.parametrize("sets, message", [
    (["worker.replicaCount=2"], "needs qdrant.url"),
    (["qdrant.url=http://q:6333", "worker.persistence.enabled=false", "worker.autoscaling.enabled=true",
      "worker.autoscaling.maxReplicas=9"], "would sit idle"),
    (["sink.replicaCount=2"], "sink.replicaCount must be 1"),
    (["watch.replicaCount=2"], "watch.replicaCount must be 1"),
    (["gateway.enabled=true"], "gateway-token"),
    (["secrets.values.openai_key=x"], "not a key Aetherius reads"),
    (["clickhouse.embedded=false"], "clickhouse-url"),
    (["kafka.bootstrap="], "kafka.bootstrap is required"),
])
def test_inconsistent_values_fail_with_a_clear_message(sets: list[str], message: str) -> None:
    args = ["template", "rel", str(CHART)]
    for item in sets:
        args += ["--set", item]
    result = helm(*args, check=False)
    assert result.returncode != 0, f"rendered despite {sets}"
    assert message in result.stderr
