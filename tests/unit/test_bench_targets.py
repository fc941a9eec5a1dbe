"""`pobi bench`'s judgement of issue 21's targets, from a report's figures."""

from __future__ import annotations

from pobi.cli.bench import targets


def report(normalize: float, fanout_eps: int, sink_eps: int, feed_p99: int | None) -> dict[str, object]:
    return {"normalize": {"pobi normalisation stage, one process": {"ratio_to_baseline": normalize}},
            "fanout": {"fan-out, 10 contracts": {"events_per_second": fanout_eps, "deliveries_per_event": 6.0}},
            "sink": {"pobi sink stage": {"events_per_second": sink_eps}},
            "publish": {"baseline (pre-encoded bytes)": {"ratio_to_baseline": 1.0},
                        "pobi publish --format jsonl": {"ratio_to_baseline": 0.5}},
            "reload": {"baseline": {"events_per_second": 1}, "pobi worker --processes 1": {"worker_max_rss_mb": 600}},
            "end_to_end": {"70%": {"feed_p99_ms": feed_p99, "p99_ms": 900, "worker_max_rss_mb": 120}}}


def test_each_target_is_judged_by_its_figure() -> None:
    judged = targets(report(0.39, 12_000, 40_000, 250))
    assert {name: (t["measured"], t["met"]) for name, t in judged.items()} == {
        "normalise, one process, share of consume→produce (≥ 0.40)": (0.39, False),
        "fan-out, µs per delivery with 10 contracts (≤ 15)": (13.9, True),
        "sink, events/s in one process (≥ 40,000)": (40_000, True),
        "publish (jsonl), share of pre-encoded producing (≥ 0.50)": (0.5, True),
        "worker resident memory, MB (≤ 500)": (600, False),
        "publish → feed p99 at 70 % load, ms (≤ 250)": (250, True),
        "publish → ClickHouse p99 at 70 % load, ms (≤ 1,000)": (900, True)}


def test_a_run_that_saw_nothing_meets_no_latency_target() -> None:
    assert not targets(report(0.5, 12_000, 40_000, None))["publish → feed p99 at 70 % load, ms (≤ 250)"]["met"]
