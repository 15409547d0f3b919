"""Record a real topic to JSONL and replay it into another: keys, headers, timestamps and per-key order survive."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from aetherius.cli import main
from streams.producer import OutRecord, Producer
from streams.record_replay import (BadRecording, RecordedMessage, consume, parse_lines, parse_speed, send_offsets,
                                   to_line)
from tests.test_webhook import create_topic, read_topic

BASE_TS = 1_795_611_969_343


def test_parse_speed() -> None:
    assert parse_speed("10x") == 10.0
    assert parse_speed("1") == 1.0
    assert parse_speed("0.5X") == 0.5
    assert parse_speed("max") is None
    for bad in ("fast", "-2x", "x", ""):
        with pytest.raises(ValueError):
            parse_speed(bad)


def test_send_offsets_scale_gaps_and_never_reorder() -> None:
    ts = [1000, 1500, 3000, 2000, 4000]
    assert send_offsets(ts, 1.0) == [0.0, 0.5, 2.0, 2.0, 3.0]  # the earlier 2000 goes at once, in file order
    assert send_offsets(ts, 10.0) == [0.0, 0.05, 0.2, 0.2, 0.3]
    assert send_offsets(ts, None) == [0.0] * 5
    assert send_offsets([], 1.0) == []


def test_line_round_trip_keeps_bytes_nulls_and_repeated_headers() -> None:
    msg = RecordedMessage(topic="t", partition=1, offset=7, timestamp_ms=BASE_TS, key_b64=None,
                          value_b64="AP8=", headers=[{"name": "h", "value_b64": "eA=="}, {"name": "h"}])
    [back] = parse_lines([to_line(msg)])
    assert back == msg and back.value == b"\x00\xff" and back.key is None
    assert back.kafka_headers == [("h", b"x"), ("h", None)]


def test_bad_lines_name_their_line_number() -> None:
    good = to_line(RecordedMessage(topic="t", partition=0, offset=0, timestamp_ms=1))
    cases = {"not json": "{nope", "bad base64": good.replace('"key_b64":null', '"key_b64":"@@"'),
             "missing field": '{"topic": "t"}', "unknown field": good.replace('{"topic"', '{"x":1,"topic"')}
    for name, line in cases.items():
        with pytest.raises(BadRecording) as err:
            parse_lines([good, "\n", line])
        assert err.value.line == 3, name
        assert str(err.value).startswith("line 3: "), name


def test_replay_cli_refuses_a_bad_file_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text(to_line(RecordedMessage(topic="t", partition=0, offset=0, timestamp_ms=1)) + "garbage\n")
    assert main(["replay", str(f), "--bootstrap", "127.0.0.1:1"]) == 2  # refused before connecting anywhere
    assert "bad.jsonl: line 2:" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "missing.jsonl"), "--bootstrap", "127.0.0.1:1"]) == 2
    assert main(["replay", str(f), "--speed", "fast"]) == 2


def test_record_then_replay_to_another_topic(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    source, target = f"{topic_prefix}.src", f"{topic_prefix}.dst"
    # Three keys, several records each, over 3 partitions, with repeated headers, a null key and a binary value.
    sent = [OutRecord(topic=source, key=f"k{i % 3}".encode(), value=json.dumps({"i": i}).encode(),
                      headers=[("seq", str(i).encode()), ("tag", b"a"), ("tag", b"\xff\x00")],
                      timestamp_ms=BASE_TS + 37 * i) for i in range(12)]
    sent.append(OutRecord(topic=source, key=None, value=b"\x00\x01binary", headers=[], timestamp_ms=BASE_TS + 500))

    async def produce() -> None:
        await create_topic(kafka_bootstrap, source, partitions=3)
        await create_topic(kafka_bootstrap, target, partitions=2)  # another partition count on purpose
        producer = Producer(kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_all_and_wait(sent)
        finally:
            await producer.stop()

    asyncio.run(produce())
    out = tmp_path / "rec.jsonl"
    assert main(["record", "--topic", source, "--out", str(out), "--from-beginning",
                 "--bootstrap", kafka_bootstrap]) == 0  # a snapshot: stops at the end offsets
    lines = out.read_text().splitlines()
    assert len(lines) == len(sent)
    assert all(json.loads(line)["topic"] == source for line in lines)

    assert main(["replay", str(out), "--topic", target, "--speed", "max", "--bootstrap", kafka_bootstrap]) == 0
    assert "replayed 13 record(s)" in capsys.readouterr().err
    got = asyncio.run(read_topic(kafka_bootstrap, target))
    original = asyncio.run(read_topic(kafka_bootstrap, source))

    def view(records):  # noqa: ANN001, ANN202 - comparable form, per key in offset order
        per_key: dict[bytes | None, list[tuple]] = {}
        for r in sorted(records, key=lambda r: (r.partition, r.offset)):
            per_key.setdefault(r.key, []).append((r.value, list(r.headers), r.timestamp))
        return per_key

    assert view(got) == view(original)
    assert view(got)[b"k1"][0][2] == BASE_TS + 37  # the recorded timestamp, not the replay time
    assert [v[0] for v in view(got)[b"k0"]] == [json.dumps({"i": i}).encode() for i in range(0, 12, 3)]


def test_record_live_stops_at_max_and_replay_keeps_own_topic(kafka_bootstrap: str, topic_prefix: str,
                                                              tmp_path: Path) -> None:
    """Without --from-beginning only new records are taken; replay without --topic goes to the recorded topic."""
    topic = f"{topic_prefix}.live"
    out = tmp_path / "live.jsonl"

    async def scenario() -> tuple[list, int]:
        await create_topic(kafka_bootstrap, topic, partitions=1)
        producer = Producer(kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_all_and_wait([OutRecord(topic=topic, key=b"old", value=b"before")])
            got: list = []

            async def take() -> None:
                async for rec in consume(kafka_bootstrap, topic, from_beginning=False, max_records=2):
                    got.append(rec)

            reader = asyncio.create_task(take())
            produced = 0
            while not reader.done():  # keep producing until the reader (positioned at the end) has two
                await producer.send_all_and_wait([OutRecord(topic=topic, key=b"new", value=b"after")])
                produced += 1
                await asyncio.sleep(0.2)
            await reader
            return got, produced
        finally:
            await producer.stop()

    got, produced = asyncio.run(scenario())
    assert [(r.key, r.value) for r in got] == [(b"new", b"after")] * 2
    out.write_text("".join(to_line(RecordedMessage.of(r)) for r in got))
    assert main(["replay", str(out), "--speed", "100x", "--bootstrap", kafka_bootstrap]) == 0
    values = [r.value for r in asyncio.run(read_topic(kafka_bootstrap, topic))]
    assert values == [b"before"] + [b"after"] * (produced + 2)


def test_record_with_timeout_follows_until_idle(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> None:
    """--from-beginning --timeout S: everything there, then stop after S seconds without a new record."""
    topic = f"{topic_prefix}.idle"

    async def produce() -> None:
        await create_topic(kafka_bootstrap, topic, partitions=2)
        producer = Producer(kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_all_and_wait([OutRecord(topic=topic, key=f"k{i}".encode(), value=b"v")
                                              for i in range(5)])
        finally:
            await producer.stop()

    asyncio.run(produce())
    out = tmp_path / "idle.jsonl"
    assert main(["record", "--topic", topic, "--out", str(out), "--from-beginning", "--timeout", "1",
                 "--bootstrap", kafka_bootstrap]) == 0
    assert sorted(json.loads(line)["key_b64"] for line in out.read_text().splitlines()) == sorted(
        base64.b64encode(f"k{i}".encode()).decode() for i in range(5))
    assert main(["record", "--topic", f"{topic_prefix}.nope", "--out", str(out), "--from-beginning",
                 "--bootstrap", kafka_bootstrap]) == 2  # a missing topic is a clear error, not a hang
