"""Shared fixtures. The Kafka broker is real: one per test session, started on first use."""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Iterator

import pytest

# A developer's running demo writes ~/.config/aetherius/context.json, which every CLI command uses by default;
# the tests must not talk to it. Tests that want a context name their own file.
os.environ["AETHERIUS_CONTEXT"] = "none"

if TYPE_CHECKING:
    from tests.kubeapi import KubeAPIServer


def _docker_available() -> bool:
    try:
        import docker  # testcontainers' dependency

        docker.from_env().ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """`AETHERIUS_KAFKA_BOOTSTRAP` if set; testcontainers' Kafka where Docker runs; else the local jars."""
    external = os.environ.get("AETHERIUS_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    if _docker_available():  # pragma: no cover - no Docker engine on our machines
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.2.0").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    from aetherius.localkafka import LocalKafka

    with LocalKafka().running() as kafka:
        yield kafka.bootstrap


@pytest.fixture
def topic_prefix() -> str:
    """A unique topic prefix (and app id) per test, so tests never read each other's records."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def kube_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator["KubeAPIServer"]:
    """A real kube-apiserver + etcd for the session (tests/kubeapi.py); skipped, saying why, where the binaries
    cannot be built. Tests share it: each works in its own namespaces and deletes what it seeded."""
    from tests.kubeapi import KubeAPIServer, require_binaries

    server = KubeAPIServer(require_binaries(), tmp_path_factory.mktemp("kubeapi"))
    with server.running():
        yield server
