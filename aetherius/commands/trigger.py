"""`aetherius trigger`: ask for a diagnosis of one resource (the CLI twin of POST /api/v1/tasks).

It produces the same raw alert the API would, straight to Kafka, so it works without a running bridge.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trigger", help="request a diagnosis of a named resource")
    p.add_argument("--cluster", required=True, help="cluster id")
    p.add_argument("--namespace", default="", help="namespace (omit for nodes)")
    p.add_argument("--kind", required=True, help="pod, deployment, statefulset, daemonset, job, hpa, pvc, service, node")
    p.add_argument("--name", required=True)
    p.add_argument("--reason", default="", help="why: goes into the task's summary")
    p.add_argument("--severity", default="warning", help="critical, warning or info")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the broker's acknowledgement")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from pydantic import ValidationError

    from aetherius.cli import CliError
    from schemas.base import utcnow
    from schemas.settings import load_settings
    from schemas.topics import topic_name
    from streams.producer import ProduceError, Producer
    from streams.webhook import ManualRequest, Rejection, manual_raw_alert, record_for

    try:
        req = ManualRequest(cluster_id=args.cluster, namespace=args.namespace, kind=args.kind, name=args.name,
                            reason=args.reason, severity=args.severity)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise CliError(f"--{'.'.join(map(str, err['loc'])) or 'input'}: {err['msg']}") from None
    settings = load_settings()
    raw = manual_raw_alert(req, utcnow())
    topic = topic_name(settings.kafka.topic_prefix, "alerts.raw")

    async def send() -> None:
        producer = Producer(settings.kafka.bootstrap, client_id="aetherius-trigger")
        try:
            await asyncio.wait_for(producer.start(), args.timeout)
            await producer.send_all_and_wait([record_for(raw, topic, producer.max_request_size - 512, "request")],
                                             timeout=args.timeout)
        finally:
            await producer.stop()

    try:
        asyncio.run(send())
    except Rejection as rej:
        raise CliError(rej.error) from None
    except (ProduceError, OSError, TimeoutError) as exc:
        raise CliError(f"kafka at {settings.kafka.bootstrap} did not accept the request: {exc}") from None
    except Exception as exc:  # aiokafka's KafkaConnectionError and friends
        raise CliError(f"kafka at {settings.kafka.bootstrap} unreachable: {type(exc).__name__}: {exc}") from None
    print(json.dumps({"accepted": 1, "fingerprint": raw.fingerprint, "topic": topic}))
    return 0
