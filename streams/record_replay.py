"""Topic record/replay: a topic's records to a JSONL file and back, keys, headers and timestamps kept.

One JSON object per line:
    {"topic", "partition", "offset", "timestamp_ms", "key_b64", "value_b64", "headers": [{"name", "value_b64"}]}
Bytes are base64 (keys and values are opaque to Kafka; a record need not be UTF-8 or JSON). Headers stay a
list, not a map, because Kafka allows repeated header names and their order is part of the record.

Replay sends in file order, partitioned by key (so one key's records keep their order even on a topic
with another partition count), with the recorded timestamps, spaced as they were recorded divided by
the speed. Note: a topic's time-based retention counts from those old timestamps, so records replayed
into a topic with a shorter retention than their age are deleted at its next retention check.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from streams.producer import Producer


class BadRecording(ValueError):
    """A line of a recording that cannot be replayed; `line` is 1-based."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line


class TopicMissing(LookupError):
    pass


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode("ascii")


def _unb64(value: str | None) -> bytes | None:
    return None if value is None else base64.b64decode(value, validate=True)


def _check_b64(value: str | None) -> str | None:
    if value is not None:
        try:
            base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"not base64: {exc}") from None
    return value


class RecordedHeader(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    value_b64: str | None = None
    _b64 = field_validator("value_b64")(_check_b64)


class RecordedMessage(BaseModel):
    """One Kafka record as a line of a recording."""

    model_config = ConfigDict(extra="forbid")
    topic: str = Field(min_length=1)
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    timestamp_ms: int = Field(ge=0)
    key_b64: str | None = None
    value_b64: str | None = None
    headers: list[RecordedHeader] = Field(default_factory=list)
    _b64 = field_validator("key_b64", "value_b64")(_check_b64)

    @property
    def key(self) -> bytes | None:
        return _unb64(self.key_b64)

    @property
    def value(self) -> bytes | None:
        return _unb64(self.value_b64)

    @property
    def kafka_headers(self) -> list[tuple[str, bytes]]:
        return [(h.name, _unb64(h.value_b64)) for h in self.headers]  # type: ignore[misc]

    @classmethod
    def of(cls, record: Any) -> "RecordedMessage":
        """From an aiokafka ConsumerRecord."""
        return cls(topic=record.topic, partition=record.partition, offset=record.offset,
                   timestamp_ms=record.timestamp, key_b64=_b64(record.key), value_b64=_b64(record.value),
                   headers=[RecordedHeader(name=n, value_b64=_b64(v)) for n, v in (record.headers or ())])


# ---------------------------------------------------------------- pure: the file format and the timing

def to_line(message: RecordedMessage) -> str:
    return message.model_dump_json() + "\n"


def parse_lines(lines: Iterable[str]) -> list[RecordedMessage]:
    """Every line validated before anything is replayed; blank lines are skipped."""
    out: list[RecordedMessage] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append(RecordedMessage.model_validate_json(line))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"])
            raise BadRecording(number, f"{where + ': ' if where else ''}{err['msg']}") from None
    return out


def load(path: Path) -> list[RecordedMessage]:
    with path.open(encoding="utf-8", errors="strict") as fh:
        try:
            return parse_lines(fh)
        except UnicodeDecodeError as exc:
            raise BadRecording(0, f"file is not UTF-8: {exc}") from None


_SPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*x?\s*$", re.IGNORECASE)


def parse_speed(text: str) -> float | None:
    """"10x" / "10" -> 10.0, "0.5x" -> 0.5, "max" -> None (no waiting)."""
    if text.strip().lower() in ("max", "inf", "0"):
        return None
    match = _SPEED.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"speed {text!r}: use a factor like 1x, 10x, 0.5x or 'max'")
    return float(match.group(1))


def send_offsets(timestamps_ms: Sequence[int], speed: float | None) -> list[float]:
    """Seconds after the start at which each record is sent: recorded gaps divided by the speed.

    Relative to the first record; a record whose timestamp is earlier than one before it (another
    partition, a producer's clock) is sent at once rather than reordered.
    """
    if not timestamps_ms:
        return []
    if speed is None:
        return [0.0] * len(timestamps_ms)
    first = timestamps_ms[0]
    out, latest = [], 0.0
    for ts in timestamps_ms:
        latest = max(latest, (ts - first) / 1000.0 / speed)
        out.append(latest)
    return out


# ---------------------------------------------------------------- I/O: recording

async def topic_partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found = [t for t in described if t["topic"] == topic and t["error_code"] == 0]
    if not found or not found[0]["partitions"]:
        raise TopicMissing(f"topic {topic!r} does not exist on {bootstrap}")
    return [TopicPartition(topic, p["partition"]) for p in sorted(found[0]["partitions"], key=lambda p: p["partition"])]


async def consume(bootstrap: str, topic: str, *, from_beginning: bool = True, max_records: int | None = None,
                  idle_timeout: float | None = None, snapshot: bool = False) -> AsyncIterator[Any]:
    """Yield the topic's records (aiokafka ConsumerRecords) without a consumer group: no offsets are committed.

    Stops at `max_records`, after `idle_timeout` seconds without a record, or — with `snapshot` — once the
    end offsets seen at the start are reached (a consistent copy of what the topic held).
    """
    parts = await topic_partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest" if from_beginning else "latest")
    await consumer.start()
    try:
        consumer.assign(parts)
        if from_beginning:
            await consumer.seek_to_beginning(*parts)
        else:
            await consumer.seek_to_end(*parts)
        ends = await consumer.end_offsets(parts) if snapshot else {}
        count, last_seen = 0, time.monotonic()
        while max_records is None or count < max_records:
            if snapshot and not [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
                return
            if idle_timeout is not None and time.monotonic() - last_seen >= idle_timeout:
                return
            batch = await consumer.getmany(timeout_ms=200)
            for tp in sorted(batch, key=lambda t: t.partition):
                for record in batch[tp]:
                    if snapshot and record.offset >= ends[tp]:
                        continue
                    yield record
                    count += 1
                    last_seen = time.monotonic()
                    if max_records is not None and count >= max_records:
                        return
    finally:
        await consumer.stop()


async def follow(bootstrap: str, topic: str, apply: Callable[[Any], None],
                 after_poll: Callable[[bool], None] = lambda _caught_up: None, **consumer_args: Any) -> None:
    """Read every partition of `topic` from the beginning and keep following it, without a consumer group: how a
    process learns a small topic that holds state (budget decisions, suspensions). `apply` gets each record;
    `after_poll(caught_up)` runs after every poll, records or not (time-based metrics stay current), with
    caught_up True once everything the topic held at the start has been applied. Runs until cancelled;
    broker errors are the caller's to retry."""
    parts = await topic_partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
                                **consumer_args)
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends, caught_up = await consumer.end_offsets(parts), False
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for tp in sorted(batch, key=lambda t: t.partition):
                for rec in batch[tp]:
                    apply(rec)
            if not caught_up:
                caught_up = all([await consumer.position(tp) >= ends[tp] for tp in parts])
            after_poll(caught_up)
    finally:
        await consumer.stop()


async def record(bootstrap: str, topic: str, out: TextIO, **consume_args: Any) -> int:
    """Write the records to `out` as JSONL, flushed per line so an interrupted recording keeps what it has."""
    written = 0
    async for rec in consume(bootstrap, topic, **consume_args):
        out.write(to_line(RecordedMessage.of(rec)))
        out.flush()
        written += 1
    return written


# ---------------------------------------------------------------- I/O: replaying

async def replay(producer: Producer, messages: Sequence[RecordedMessage], *, topic: str | None = None,
                 speed: float | None = 1.0, ack_timeout: float = 30.0) -> int:
    """Send the recording (to `topic`, or each record's own topic); returns the count acknowledged.

    Raises `ProduceError` if any record is not acknowledged.
    """
    offsets = send_offsets([m.timestamp_ms for m in messages], speed)
    started = time.monotonic()
    futures = []
    for message, at in zip(messages, offsets):
        delay = started + at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        futures.append(await producer.send(topic or message.topic, message.key, message.value,
                                           message.kafka_headers, timestamp_ms=message.timestamp_ms))
    return len(await producer.wait_acks(futures, ack_timeout))
