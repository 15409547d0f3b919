"""The Helm chart's RBAC installed into a real API server: the reader ClusterRole, its binding and the service
account, exactly as `helm template` renders them, plus a token for that service account from the TokenRequest API
(what the worker's and the watcher's pods are given)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.kubeapi import Kube

RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")
NAMESPACE = "aetherius"
ENGINE_NS = "vault-system"


@dataclass(frozen=True)
class ChartIdentity:
    namespace: str
    service_account: str
    cluster_role: dict[str, Any]
    token: str

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


def rendered_rbac() -> list[dict[str, Any]]:
    """The chart's ServiceAccount, ClusterRole and ClusterRoleBinding from `helm template` (default values)."""
    from tests.test_deploy_helm import _render

    docs = [d for d in _render(None) if d.get("kind") in RBAC_KINDS]
    assert sorted(d["kind"] for d in docs) == sorted(RBAC_KINDS), [d["kind"] for d in docs]
    return docs


async def install_chart_rbac(kube: Kube, token_seconds: int = 3600) -> ChartIdentity:
    """Apply the rendered RBAC objects (idempotent) and issue a token for the chart's service account."""
    docs = {d["kind"]: d for d in rendered_rbac()}
    await kube.ensure("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
    sa = docs["ServiceAccount"]
    await kube.ensure(f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts", sa)
    await kube.ensure("/apis/rbac.authorization.k8s.io/v1/clusterroles", docs["ClusterRole"])
    binding = docs["ClusterRoleBinding"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": NAMESPACE}]
    await kube.ensure("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding)
    token = await kube.token(NAMESPACE, sa["metadata"]["name"], token_seconds)
    return ChartIdentity(NAMESPACE, sa["metadata"]["name"], docs["ClusterRole"], token)


async def engine_identity(kube: Kube, reader_role: str) -> str:
    """A service account for OpenBao's engine: it may create and delete service accounts and their tokens in
    `aetherius`, create and delete ClusterRoleBindings, and bind only the reader ClusterRole; a token for it."""
    await kube.ensure("/api/v1/namespaces", {"metadata": {"name": ENGINE_NS}})
    await kube.ensure(f"/api/v1/namespaces/{ENGINE_NS}/serviceaccounts", {"metadata": {"name": "openbao"}})
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    await kube.ensure(f"{rbac}/clusterroles", {"metadata": {"name": "openbao-token-issuer"}, "rules": [
        {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["create", "delete", "get"]},
        {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterrolebindings", "rolebindings"],
         "verbs": ["create", "delete", "get"]},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"],
         "resourceNames": [reader_role]}]})
    await kube.ensure(f"{rbac}/clusterrolebindings", {
        "metadata": {"name": "openbao-token-issuer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "openbao-token-issuer"},
        "subjects": [{"kind": "ServiceAccount", "name": "openbao", "namespace": ENGINE_NS}]})
    return await kube.token(ENGINE_NS, "openbao", 7200)
