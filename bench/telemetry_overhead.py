"""What one tool-call span costs: entering and leaving ``execute_tool``, tracing off and on.

"Off" is the OpenTelemetry API's no-op tracer (no endpoint configured); "on" is the SDK with an
in-memory exporter, so the figure is Tandem's and the SDK's work without any network.

Run with `.venv/bin/python bench/telemetry_overhead.py`. Prints figures only; nothing is asserted.
"""

from __future__ import annotations

import statistics
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot import telemetry

CALLS = 2_000  # per batch
BATCHES = 101  # the median batch is reported


def per_call_us(after_batch: object = None) -> float:
    times = []
    for _ in range(BATCHES):
        started = time.perf_counter()
        for _ in range(CALLS):
            with telemetry.execute_tool("list_events", "toolu_01", 4242, {"day": "tomorrow"}):
                pass
        times.append((time.perf_counter() - started) / CALLS)
        if callable(after_batch):
            after_batch()
    return statistics.median(times) * 1e6


def main() -> None:
    off = per_call_us()

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry._tracer = provider.get_tracer("tandem")
    on = per_call_us(exporter.clear)
    telemetry._capture = True
    on_content = per_call_us(exporter.clear)
    provider.shutdown()

    print(f"execute_tool span, median of {BATCHES} batches of {CALLS:,} calls:")
    print(f"  tracing off (no-op tracer):            {off:6.2f} µs per call")
    print(f"  tracing on (in-memory exporter):       {on:6.2f} µs per call")
    print(f"  tracing on, content capture on:        {on_content:6.2f} µs per call")


if __name__ == "__main__":
    main()
