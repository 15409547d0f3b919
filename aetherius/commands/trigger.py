"""`aetherius trigger`: ask for a diagnosis of one resource (the CLI twin of POST /api/v1/tasks).

It produces the same raw alert the API would, straight to Kafka, so it works without a running bridge.
Like the API it needs a credential - an API key or an OIDC token in `AETHERIUS_API_KEY` (an environment
variable, not a flag: a flag would show in `ps`) - checked against the same configured keys/issuer and the
same `tasks:create` permission. Its name and role travel with the request: the diagnosis's tool calls run
with that role and are audited under that name. (Kafka's own ACLs remain the boundary for anyone who can
write to the topic directly; this keeps the CLI from being a way around the API's checks.)
"""

from __future__ import annotations

import argparse
import os
import sys

CREDENTIAL_ENV = "AETHERIUS_API_KEY"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trigger", help=f"request a diagnosis of a named resource (credential in {CREDENTIAL_ENV})")
    p.add_argument("--cluster", required=True, help="cluster id")
    p.add_argument("--namespace", default="", help="namespace (omit for nodes)")
    p.add_argument("--kind", required=True, help="pod, deployment, statefulset, daemonset, job, hpa, pvc, service, node")
    p.add_argument("--name", required=True)
    p.add_argument("--reason", default="", help="why: goes into the task's summary")
    p.add_argument("--severity", default="warning", help="critical, warning or info")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the broker's acknowledgement")
    p.set_defaults(func=run)


async def authenticate(credential: str, security):  # noqa: ANN001, ANN201 - SecuritySettings -> Principal
    """The principal behind a credential, as the HTTP middleware would find it; CliError when there is none."""
    from aetherius.cli import CliError
    from aetherius.http.auth import ApiKeyStore, AuthFailure, OidcVerifier, looks_like_jwt
    from aetherius.http.rbac import Principal, allowed

    if not credential:
        raise CliError(f"{CREDENTIAL_ENV} is not set: a manual diagnosis needs an API key or OIDC token "
                       "with the tasks:create permission")
    if looks_like_jwt(credential) and security.oidc is not None:
        try:
            principal = await OidcVerifier(security.oidc).verify(credential)
        except AuthFailure as failure:
            raise CliError(f"{CREDENTIAL_ENV}: {failure.reason}") from None
    else:
        entry = ApiKeyStore(security.api_keys).lookup(credential)
        if entry is None:
            raise CliError(f"{CREDENTIAL_ENV}: unknown API key (not among security.api_keys)")
        principal = Principal(name=entry.name, role=entry.role, method="api_key")
    if not allowed(principal.roles, "tasks:create"):
        raise CliError(f"{principal.name} (role {principal.role}) lacks the tasks:create permission")
    return principal


async def suspension_of(principal, settings):  # noqa: ANN001, ANN201 - Principal, Settings -> Suspension | None
    """The suspension in force for this principal (SRS §5.8.5), as every API would refuse it. The list is read
    once from its topic; if Kafka does not answer in time we go on (the produce that follows needs Kafka anyway),
    as the API processes do (docs/security.md)."""
    from aetherius.http.suspensions import principal_subject
    from schemas.base import utcnow
    from schemas.topics import topic_name
    from streams.suspensions import TOPIC, read_suspensions

    book = await read_suspensions(settings.kafka.bootstrap, topic_name(settings.kafka.topic_prefix, TOPIC),
                                  settings.security.suspensions.cli_read_timeout_seconds)
    if book is None:
        print("warning: the suspension list could not be read; going on", file=sys.stderr)
        return None
    return book.active(principal_subject(principal), utcnow())


def run(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from pydantic import ValidationError

    from aetherius.cli import CliError
    from schemas.audit import AuditEvent
    from schemas.base import utcnow
    from schemas.settings import load_settings
    from schemas.topics import topic_name
    from streams.producer import OutRecord, ProduceError, Producer
    from streams.admission import AdmissionError
    from streams.webhook import ManualRequest, Rejection, check_manual_names, manual_raw_alert, record_for, requester_of

    flags = {"cluster_id": "cluster"}
    try:
        req = ManualRequest(cluster_id=args.cluster, namespace=args.namespace, kind=args.kind, name=args.name,
                            reason=args.reason, severity=args.severity)
        check_manual_names(req)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = ".".join(map(str, err["loc"])) or "input"
        raise CliError(f"--{flags.get(field, field)}: {err['msg']}") from None
    except AdmissionError as exc:
        raise CliError(f"--{flags.get(exc.field, exc.field)}: {exc.message}") from None
    settings = load_settings()
    principal = asyncio.run(authenticate(os.environ.get(CREDENTIAL_ENV, "").strip(), settings.security))
    raw = manual_raw_alert(req, utcnow(), requester_of(principal, via="cli"))
    topic = topic_name(settings.kafka.topic_prefix, "alerts.raw")
    # The API audits every request (api.request); the CLI's twin of that record.
    audit = AuditEvent(actor=principal.name, role=principal.role, action="cli.trigger", cluster_id=req.cluster_id,
                       resource=f"{req.kind}/{req.namespace}/{req.name}" if req.namespace else f"{req.kind}/{req.name}",
                       details={"fingerprint": raw.fingerprint, "auth_method": principal.method})

    async def send() -> None:
        producer = Producer(settings.kafka.bootstrap, client_id="aetherius-trigger")
        try:
            await asyncio.wait_for(producer.start(), args.timeout)
            suspended = await suspension_of(principal, settings)
            if suspended is not None:
                why = (f"{principal.name} is suspended until {suspended.until.isoformat()} after a security event "
                       f"({suspended.security_event or 'unspecified'}) in task {suspended.task_id or '-'}")
                refused = audit.model_copy(update={"result": "rejected", "reason": why})
                try:  # the refusal is audited like the API's 403
                    await producer.send_all_and_wait([OutRecord(topic=topic_name(settings.kafka.topic_prefix, "audit"),
                                                                key=refused.id.encode(), value=refused.to_bytes())],
                                                     timeout=args.timeout)
                except Exception as exc:  # noqa: BLE001
                    print(f"warning: audit event not published: {type(exc).__name__}: {exc}", file=sys.stderr)
                raise CliError(why)
            await producer.send_all_and_wait([record_for(raw, topic, producer.max_request_size - 512, "request")],
                                             timeout=args.timeout)
            try:  # like the API's audit: best effort after the fact, never a reason to fail the request
                await producer.send_all_and_wait([OutRecord(topic=topic_name(settings.kafka.topic_prefix, "audit"),
                                                            key=audit.id.encode(), value=audit.to_bytes())],
                                                 timeout=args.timeout)
            except Exception as exc:  # noqa: BLE001
                print(f"warning: audit event not published: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            await producer.stop()

    try:
        asyncio.run(send())
    except CliError:
        raise
    except Rejection as rej:
        raise CliError(rej.error) from None
    except (ProduceError, OSError, TimeoutError) as exc:
        raise CliError(f"kafka at {settings.kafka.bootstrap} did not accept the request: {exc}") from None
    except Exception as exc:  # aiokafka's KafkaConnectionError and friends
        raise CliError(f"kafka at {settings.kafka.bootstrap} unreachable: {type(exc).__name__}: {exc}") from None
    print(json.dumps({"accepted": 1, "fingerprint": raw.fingerprint, "topic": topic,
                      "requested_by": {"subject": principal.name, "role": principal.role}}))
    return 0
