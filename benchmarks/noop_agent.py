"""A no-op Faust agent over raw bytes: the yardstick the pipeline's rate is compared with.

Run by bench_pipeline.py as `faust -A benchmarks.noop_agent worker`; prints the time of its first
and its N-th record on stdout.
"""

import os
import sys
import time

import faust

N = int(os.environ["BENCH_N"])
app = faust.App(os.environ["BENCH_APP_ID"], broker=f"kafka://{os.environ['BENCH_BOOTSTRAP']}", store="memory://",
                web_enabled=False, key_serializer="raw", value_serializer="raw",
                consumer_auto_offset_reset="earliest", topic_partitions=int(os.environ["BENCH_PARTITIONS"]))
source = app.topic(os.environ["BENCH_TOPIC"], key_serializer="raw", value_serializer="raw")
seen = {"n": 0, "first": 0.0}


@app.agent(source)
async def noop(stream):
    async for _value in stream:
        seen["n"] += 1
        if seen["n"] == 1:
            seen["first"] = time.time()
        if seen["n"] == N:
            print(f"NOOP {seen['first']} {time.time()}", flush=True)
            sys.stdout.flush()
