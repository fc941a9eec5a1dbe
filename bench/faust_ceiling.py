"""The Faust ceiling: an empty Faust agent (noack_take batches, each event acked) reading a topic to its
end, as a subprocess of normalize_bench.py. Writes "<events/s> <seconds>" to the file BENCH_RESULT
(Faust redirects stdout into its log).

    python bench/faust_ceiling.py worker  (with BENCH_TOPIC, BENCH_EVENTS, BENCH_RESULT, POBI_KAFKA_BOOTSTRAP)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import faust

TOPIC, EVENTS = os.environ["BENCH_TOPIC"], int(os.environ["BENCH_EVENTS"])
app = faust.App(f"{TOPIC}-faust-ceiling", broker=f"kafka://{os.environ.get('POBI_KAFKA_BOOTSTRAP', '127.0.0.1:9092')}",
                web_enabled=False, topic_disable_leader=True, consumer_auto_offset_reset="earliest",
                broker_max_poll_records=5000, datadir=os.environ.get("BENCH_DATADIR", "/tmp/faust-ceiling"))
source = app.topic(TOPIC, value_serializer="raw", key_serializer="raw")
state = {"seen": 0, "started": 0.0}


@app.agent(source)
async def empty(stream: faust.Stream) -> None:
    async for events in stream.noack_take(5000, within=0.5):
        if not state["started"]:
            state["started"] = time.perf_counter()
        for event in events:
            await stream.ack(event)
        state["seen"] += len(events)
        if state["seen"] >= EVENTS:
            seconds = time.perf_counter() - state["started"]
            Path(os.environ["BENCH_RESULT"]).write_text(f"{state['seen'] / seconds:.0f} {seconds:.3f}\n")
            os._exit(0)


if __name__ == "__main__":
    app.main()
