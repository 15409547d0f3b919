"""The yardsticks the pipeline's rate is compared with, as Faust agents over raw bytes:

- `noop`: consume only (the issue's reference);
- `table_forward`: one table write and one forward per record, no logic - the least any stateful
  pipeline stage written with Faust's table and topic API (`table[k] = v`, `topic.send`) can cost;
- `emit_forward`: the same through streams.emit (Faust's producer, no per-record FutureMessage), the
  path the pipeline's agents use.

Run by bench_pipeline.py as `faust -A benchmarks.yardstick_agent worker` with MODE set; prints the time of
its first and its N-th record on stdout. Same producer settings as the worker (acks=all, 5 ms linger).
"""

import logging
import os
import tempfile
import time

import faust

from streams.emit import Emitter

N = int(os.environ["BENCH_N"])
MODE = os.environ.get("MODE", "noop")
app = faust.App(os.environ["BENCH_APP_ID"], broker=f"kafka://{os.environ['BENCH_BOOTSTRAP']}", store="memory://",
                datadir=tempfile.mkdtemp(prefix="aetherius-yardstick-"),  # not the working directory
                web_enabled=False, key_serializer="raw", value_serializer="raw", producer_acks=-1,
                producer_linger=float(os.environ.get("BENCH_LINGER_MS", "5")) / 1000,
                consumer_auto_offset_reset="earliest", topic_partitions=int(os.environ["BENCH_PARTITIONS"]))
source = app.topic(os.environ["BENCH_TOPIC"], key_serializer="raw", value_serializer="raw")
out = app.topic(os.environ["BENCH_TOPIC"] + "-out", key_serializer="raw", value_serializer="raw")
table = app.Table("yardstick", default=None)
emit = Emitter(app)
seen = {"n": 0, "first": 0.0}


def count() -> None:
    seen["n"] += 1
    if seen["n"] == 1:
        seen["first"] = time.time()
    if seen["n"] == N:  # faust routes print() through its logger, so the line gets a prefix
        print(f"DONE {seen['first']} {time.time()}", flush=True)


@app.task
async def quiet_logs() -> None:
    """`faust worker -l warn` leaves the root logger at DEBUG: aiokafka and faust then build a debug record
    for every send only for the handler to drop it, which charged the send yardsticks ~10% that the
    worker (our own logging setup, WARNING) does not pay."""
    logging.getLogger().setLevel(logging.WARNING)


@app.agent(source)
async def yardstick(stream):
    if MODE == "emit_forward":
        async for key, value in stream.items():
            await emit.put(table, key, len(value))
            await emit.send(out, key, value)
            count()
    elif MODE == "table_forward":
        async for key, value in stream.items():
            table[key] = len(value)
            await out.send(key=key, value=value)
            count()
    else:
        async for _value in stream:
            count()
