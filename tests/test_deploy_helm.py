"""The Helm chart, rendered and linted by the real `helm` (built by deploy/tools/install-helm.sh), checked as
Kubernetes objects: every manifest round-trips through the Kubernetes API models (a misspelt or misplaced field
is dropped by the model and shows up as a difference), the ClusterRole is read-only and nothing more, every
Deployment is probed, limited and locked down, and the rendered Settings file is one our own Settings accepts.
The cluster registry is followed into the pods: the files each pod would see are laid out from its volumes and
mounts, and the registry is loaded from the path its Settings name with the real ClusterRegistry loader.

Renders the default values and deploy/helm/aetherius/ci/all-values.yaml (every optional part switched on,
the cluster registry included).
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
    ("storage.k8s.io", "storageclasses"), ("networking.k8s.io", "networkpolicies"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("metrics.k8s.io", "pods"), ("metrics.k8s.io", "nodes"),
}
READ_VERBS = {"get", "list", "watch"}
HTTP_ROLES = {"webhook", "worker", "watch", "sink", "console"}  # the roles that serve /health/live, /health/ready and /metrics
ROLE_PORTS = {"webhook": 8080, "worker": 6066, "watch": 8082, "sink": 8081, "gateway": 8765, "console": 8090}


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert HELM is not None
    result = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@lru_cache(maxsize=None)
def _render(values: str | None, *extra: str) -> tuple[dict[str, Any], ...]:
    """`helm template` with a values file (or the defaults) and extra arguments (--set, -f)."""
    args = ["template", "rel", str(CHART), "--namespace", "aetherius"]
    if values:
        args += ["-f", values]
    docs = [d for d in yaml.safe_load_all(helm(*args, *extra).stdout) if d]
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
    assert default == {"webhook", "worker", "watch", "sink", "console"}  # the gateway is opt-in (it needs a token)
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
        (rule,) = policy["spec"]["ingress"]
        assert [p["port"] for p in rule["ports"]] == [ROLE_PORTS[role]]
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


def _pod_files(deployment: dict[str, Any], config_map: dict[str, Any], root: Path) -> None:
    """Lay out under `root` the ConfigMap files the pod sees, as the kubelet mounts them: a subPath mount is one
    file; a directory mount holds the volume's `items` (or every key)."""
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    for mount in container(deployment)["volumeMounts"]:
        source = volumes[mount["name"]].get("configMap")
        if source is None:
            continue
        assert source["name"] == config_map["metadata"]["name"], f"{mount['name']} mounts another ConfigMap"
        items = source.get("items") or [{"key": k, "path": k} for k in config_map["data"]]
        target = root / mount["mountPath"].lstrip("/")
        if "subPath" in mount:
            items = [i for i in items if i["path"] == mount["subPath"]]
            assert len(items) == 1, f"subPath {mount['subPath']} is no key of the ConfigMap"
            files = {target: items[0]["key"]}
        else:
            files = {target / i["path"]: i["key"] for i in items}
        for path, key in files.items():
            assert key in config_map["data"], f"{mount['name']} mounts key {key}, which the ConfigMap lacks"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(config_map["data"][key])


def _pod_settings(deployment: dict[str, Any], manifests: list[dict[str, Any]], root: Path,
                  monkeypatch: pytest.MonkeyPatch) -> Any:
    """The Settings the pod's process builds: its mounted files (under `root`) plus its env, through our own
    Settings model (extra="forbid": a wrong key fails)."""
    from schemas.settings import Settings

    (config_map,) = of_kind(manifests, "ConfigMap")
    secrets = of_kind(manifests, "Secret")
    _pod_files(deployment, config_map, root)
    env = _pod_env(deployment, secrets[0] if secrets else None)
    with monkeypatch.context() as m:
        for name in list(os.environ):
            if name.startswith("AETHERIUS_") or name.startswith("OPENAI_"):
                m.delenv(name)
        for name, value in env.items():
            m.setenv(name, value)
        m.setenv("AETHERIUS_CONFIG", str(root / env["AETHERIUS_CONFIG"].lstrip("/")))
        return Settings()


def in_pod(root: Path, path: Path | str) -> Path:
    return root / str(path).lstrip("/")


def test_rendered_settings_load_in_every_pod(manifests: list[dict[str, Any]], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = of_kind(manifests, "Secret")
    for deployment in of_kind(manifests, "Deployment"):
        role = role_of(deployment)
        env = _pod_env(deployment, secrets[0] if secrets else None)
        settings = _pod_settings(deployment, manifests, tmp_path / role, monkeypatch)
        if role in HTTP_ROLES:
            port = {"webhook": settings.webhook.port, "worker": settings.worker.port, "watch": settings.watch.port,
                    "sink": settings.analytics.api_port, "console": settings.console.port}[role]
            assert {"name": "http", "containerPort": port, "protocol": "TCP"} in container(deployment)["ports"]
        if role == "watch":  # off loopback, or the kubelet's probes could not reach it
            assert settings.watch.host == "0.0.0.0"
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


# ------------------------------------------------------------------------------------------------ cluster registry

REGISTRY_READERS = {"worker", "watch"}  # the roles that read clusters_file (streams/pipeline.py, aetherius watch)
NO_REGISTRY = ("--set", "clusterRegistry=null")


def _by_role(docs: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {role_of(d): d for d in of_kind(list(docs), "Deployment")}


def test_registry_reaches_worker_and_watch_at_their_clusters_file(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry given in values is, in each reading pod, the file its Settings' clusters_file names, and the
    real loader accepts it with every cluster and limit the values gave."""
    from agents.clusters.registry import ClusterRegistry

    docs = list(_render(str(ALL_VALUES)))
    given = yaml.safe_load(ALL_VALUES.read_text())["clusterRegistry"]
    (config_map,) = of_kind(docs, "ConfigMap")
    assert "clusters.yaml" in config_map["data"]
    for role, deployment in _by_role(docs).items():
        settings = _pod_settings(deployment, docs, tmp_path / role, monkeypatch)
        if role not in REGISTRY_READERS:
            assert not any(m["name"] == "clusters" for m in container(deployment)["volumeMounts"]), role
            continue
        assert settings.clusters_file is not None, f"{role}: clusters_file not set"
        registry = ClusterRegistry.load(in_pod(tmp_path / role, settings.clusters_file))
        assert list(registry.clusters) == [c["id"] for c in given["clusters"]], role
        ap = registry.get("prod-ap")
        assert ap is not None and ap.credentials.engine == "kubernetes" and ap.access_control.rate_limit.per_second == 20 / 60
        assert registry.get("prod-eu").access_control.max_concurrent_tasks == 5
        assert registry.get("staging").enabled is False
        # hot reload needs the kubelet to swap the file in place: a subPath mount would never see an update
        (mount,) = [m for m in container(deployment)["volumeMounts"] if m["name"] == "clusters"]
        assert "subPath" not in mount and mount.get("readOnly") is True, role
        assert Path(mount["mountPath"]) == settings.clusters_file.parent, role


def test_without_a_registry_nothing_is_mounted_and_clusters_file_is_unset(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for docs in (_render(None), _render(str(ALL_VALUES), *NO_REGISTRY)):
        (config_map,) = of_kind(list(docs), "ConfigMap")
        assert "clusters.yaml" not in config_map["data"]
        for role, deployment in _by_role(docs).items():
            assert _pod_settings(deployment, list(docs), tmp_path / role, monkeypatch).clusters_file is None
            assert "clusters" not in {v["name"] for v in deployment["spec"]["template"]["spec"]["volumes"]}


def test_registry_given_as_yaml_text_is_shipped_verbatim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--set-file clusterRegistry=clusters.yaml`: the file as written (comments too) is what the pods load."""
    from agents.clusters.registry import ClusterRegistry

    text = ("# owned by the platform team\nclusters:\n  - id: edge-1  # the edge site\n    name: Edge 1\n"
            "    vault_path: kubernetes/edge-1\n    access_control: {max_concurrent_tasks: 1, rate_limit: 5/minute}\n")
    source = tmp_path / "clusters.yaml"
    source.write_text(text)
    docs = list(_render(None, "--set-file", f"clusterRegistry={source}"))
    (config_map,) = of_kind(docs, "ConfigMap")
    assert config_map["data"]["clusters.yaml"] == text
    watch = _by_role(docs)["watch"]
    settings = _pod_settings(watch, docs, tmp_path / "pod", monkeypatch)
    registry = ClusterRegistry.load(in_pod(tmp_path / "pod", settings.clusters_file))
    assert registry.get("edge-1").access_control.rate_limit.per_second == 5 / 60


def test_registry_edit_changes_only_the_config_map_and_is_hot_reloaded(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """An upgrade that edits the registry leaves every Deployment identical (no rollout: NFR-25 hot reload); the
    kubelet's file update is then picked up by the loader the processes poll. A Settings edit still rolls out."""
    from agents.clusters.registry import ClusterRegistry

    given = yaml.safe_load(ALL_VALUES.read_text())["clusterRegistry"]
    edited = json.loads(json.dumps(given))
    edited["clusters"][0]["access_control"]["max_concurrent_tasks"] = 9
    edited["clusters"].append({"id": "prod-us", "name": "Production US", "vault_path": "kubernetes/prod-us"})
    overlay = tmp_path / "edit.yaml"
    overlay.write_text(yaml.safe_dump({"clusterRegistry": edited}))
    before, after = list(_render(str(ALL_VALUES))), list(_render(str(ALL_VALUES), "-f", str(overlay)))

    assert of_kind(before, "Deployment") == of_kind(after, "Deployment"), "a registry edit must not restart pods"
    (cm_before,), (cm_after,) = of_kind(before, "ConfigMap"), of_kind(after, "ConfigMap")
    changed = {k for k in cm_before["data"].keys() | cm_after["data"].keys()
               if cm_before["data"].get(k) != cm_after["data"].get(k)}
    assert changed == {"clusters.yaml"}

    watch = _by_role(before)["watch"]
    settings = _pod_settings(watch, before, tmp_path / "pod", monkeypatch)
    path = in_pod(tmp_path / "pod", settings.clusters_file)
    registry = ClusterRegistry.load(path)
    path.write_text(cm_after["data"]["clusters.yaml"])  # what the kubelet's ConfigMap sync does
    outcome = registry.check()
    assert outcome.result == "reloaded"
    assert outcome.change.added == ("prod-us",) and outcome.change.changed == ("prod-eu",)
    assert registry.get("prod-eu").access_control.max_concurrent_tasks == 9

    restarted = of_kind(list(_render(str(ALL_VALUES), "--set", "config.log_level=WARNING")), "Deployment")
    for old, new in zip(of_kind(before, "Deployment"), restarted):
        key = "checksum/config"
        assert old["spec"]["template"]["metadata"]["annotations"][key] != \
            new["spec"]["template"]["metadata"]["annotations"][key], "a Settings edit must roll the pods"


# ------------------------------------------------------------------------------------------------ watch

def _watch_args(docs: tuple[dict[str, Any], ...]) -> Any:
    """The watch container's args through our own CLI parser, as the entrypoint receives them."""
    from aetherius.cli import build_parser

    args = container(_by_role(docs)["watch"])["args"]
    parsed = build_parser().parse_args(args)
    assert parsed.command == "watch"
    return args, parsed


def test_watch_with_a_registry_runs_without_cluster_flags_and_watches_the_registry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No --cluster (it would restrict the set): the targets `aetherius watch` derives from the pod's Settings and
    mounted registry are every enabled registry cluster by Vault, plus clusterId and the kubeconfig clusters."""
    from agents.clusters.registry import ClusterRegistry
    from streams.watch_fleet import desired_targets

    docs = _render(str(ALL_VALUES))
    args, parsed = _watch_args(docs)
    assert args == ["watch"] and not parsed.clusters
    settings = _pod_settings(_by_role(docs)["watch"], list(docs), tmp_path, monkeypatch)
    registry = ClusterRegistry.load(in_pod(tmp_path, settings.clusters_file))
    targets, notes = desired_targets([], settings.clusters, registry.clusters, settings.vault is not None)
    assert set(targets) == {"prod-eu", "prod-us", "prod-ap"}, notes  # not staging: enabled: false
    assert targets["prod-ap"].vault is not None  # its own credentials, from Vault
    assert targets["prod-eu"].vault is None and targets["prod-eu"].kubeconfig is None  # clusterId: the ServiceAccount
    assert str(targets["prod-us"].kubeconfig) == "/etc/aetherius/kubeconfigs/prod-us.yaml"
    assert targets["prod-us"].context == "reader"


def test_watch_without_a_registry_names_its_clusters() -> None:
    args, _ = _watch_args(_render(None))
    assert args == ["watch", "--cluster", "in-cluster"]
    args, parsed = _watch_args(_render(str(ALL_VALUES), *NO_REGISTRY))
    assert parsed.clusters == [{"id": "prod-eu"}, {"id": "prod-us", "kubeconfig": "/etc/aetherius/kubeconfigs/prod-us.yaml",
                                                   "context": "reader"}]


def test_watch_is_probed_over_http_and_scraped_like_the_other_roles(manifests: list[dict[str, Any]]) -> None:
    watch = _by_role(manifests)["watch"]
    c = container(watch)
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["AETHERIUS_WATCH__HOST"] == "0.0.0.0" and env["AETHERIUS_WATCH__PORT"] == str(ROLE_PORTS["watch"])
    assert {"name": "http", "containerPort": ROLE_PORTS["watch"], "protocol": "TCP"} in c["ports"]
    for probe, path in (("startupProbe", "/health/live"), ("livenessProbe", "/health/live"),
                        ("readinessProbe", "/health/ready")):
        assert c[probe]["httpGet"] == {"path": path, "port": "http"}, probe
        assert "exec" not in c[probe], probe
    (service,) = [s for s in of_kind(manifests, "Service") if role_of(s) == "watch"]
    assert service["spec"]["ports"] == [{"name": "http", "port": ROLE_PORTS["watch"], "targetPort": "http",
                                         "protocol": "TCP"}]
    (policy,) = [n for n in of_kind(manifests, "NetworkPolicy") if role_of(n) == "watch"]
    (rule,) = policy["spec"]["ingress"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}} in rule["from"]
    monitors = of_kind(manifests, "ServiceMonitor")
    if monitors:  # all-values switches them on
        assert {role_of(m) for m in monitors} == HTTP_ROLES
        for monitor in monitors:
            assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]


# ------------------------------------------------------------------------------------------------ guards

@pytest.mark.parametrize("sets, message", [
    (["worker.replicaCount=2"], "needs qdrant.url"),
    (["qdrant.url=http://q:6333", "worker.persistence.enabled=false", "worker.autoscaling.enabled=true",
      "worker.autoscaling.maxReplicas=9"], "would sit idle"),
    (["sink.replicaCount=2"], "sink.replicaCount must be 1"),
    (["watch.replicaCount=2"], "watch.replicaCount must be 1"),
    (["gateway.enabled=true"], "api-keys"),
    (["secrets.values.openai_key=x"], "not a key Aetherius reads"),
    (["clickhouse.embedded=false"], "clickhouse-url"),
    (["kafka.bootstrap="], "kafka.bootstrap is required"),
    (["clusterRegistry.cluster[0].id=a"], "'clusters' list and nothing else"),
    (["clusterRegistry.clusters[0].id=a", "clusterRegistry.clusters[0].name=A"], "(a) needs vault_path"),
    (["clusterRegistry=clusters: [a"], "clusterRegistry is not valid YAML"),
    (["clusterRegistry.clusters[0].id=a", "clusterRegistry.clusters[0].name=A",
      "clusterRegistry.clusters[0].vault_path=kubernetes/a", "watch.clusters[0].id=b"], "entry b has no kubeconfig"),
    (["config.vault.url=http://vault:8200"], "use auth_method kubernetes"),
])
def test_inconsistent_values_fail_with_a_clear_message(sets: list[str], message: str) -> None:
    args = ["template", "rel", str(CHART)]
    for item in sets:
        args += ["--set", item]
    result = helm(*args, check=False)
    assert result.returncode != 0, f"rendered despite {sets}"
    assert message in result.stderr


def test_the_console_asks_the_worker_and_sink_services_and_is_reachable_only_as_configured() -> None:
    docs = list(_render(None))
    config = next(d for d in of_kind(docs, "ConfigMap") if "config.yaml" in d["data"])
    console = yaml.safe_load(config["data"]["config.yaml"])["console"]
    assert console == {"host": "0.0.0.0", "port": 8090, "cookie_secure": True,
                       "worker_url": "http://rel-aetherius-worker:6066",
                       "knowledge_url": "http://rel-aetherius-worker:6066", "sink_url": "http://rel-aetherius-sink:8081"}
    deployment = next(d for d in of_kind(docs, "Deployment") if role_of(d) == "console")
    spec = deployment["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False  # it never reads the cluster
    assert {e["name"] for e in container(deployment)["env"]} >= {"AETHERIUS_SECURITY__API_KEYS"}
    assert "AETHERIUS_VAULT__TOKEN" not in {e["name"] for e in container(deployment)["env"]}
