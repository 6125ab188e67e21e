"""Spans in the GenAI conventions: names, nesting, attributes, content capture, errors, setup."""

from __future__ import annotations

import json
import socket

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http import trace_exporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from bot import telemetry
from bot.config import TelemetrySettings
from bot.messages import Incoming

CHAT_ID = 4242


@pytest.fixture(autouse=True)
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """Each test gets its own provider and fresh module state; the global provider stays."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_tracer", provider.get_tracer("tandem"))
    monkeypatch.setattr(telemetry, "_provider", None)
    monkeypatch.setattr(telemetry, "_capture", False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    return exporter


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


def test_workflow_nests_its_tool_calls(spans: InMemorySpanExporter) -> None:
    with telemetry.invoke_workflow("tomorrow", CHAT_ID):
        with telemetry.execute_tool("list_events", None, CHAT_ID, {"day": "tomorrow"}):
            pass
        with telemetry.execute_tool("weather", None, CHAT_ID):
            pass

    found = by_name(spans)
    assert set(found) == {
        "invoke_workflow tomorrow",
        "execute_tool list_events",
        "execute_tool weather",
    }
    workflow = found["invoke_workflow tomorrow"]
    assert workflow.parent is None
    assert workflow.kind is SpanKind.INTERNAL
    assert dict(workflow.attributes) == {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "tomorrow",
        "gen_ai.conversation.id": "4242",
    }
    tool = found["execute_tool list_events"]
    assert tool.parent.span_id == workflow.context.span_id
    assert tool.context.trace_id == workflow.context.trace_id
    assert found["execute_tool weather"].parent.span_id == workflow.context.span_id
    assert dict(tool.attributes) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "list_events",
        "gen_ai.tool.type": "function",
        "gen_ai.conversation.id": "4242",
    }
    assert workflow.status.status_code is StatusCode.UNSET


def test_agent_chat_and_tool_with_usage(spans: InMemorySpanExporter) -> None:
    with telemetry.invoke_agent("claude-sonnet-4-5", CHAT_ID):
        with telemetry.chat("claude-sonnet-4-5", CHAT_ID) as span:
            telemetry.record_usage(span, 12, 80, 1000, 200, "tool_use", "claude-sonnet-4-5-2025")
        with telemetry.execute_tool("list_events", "toolu_01", CHAT_ID):
            pass
        with telemetry.chat("claude-sonnet-4-5", CHAT_ID) as span:
            telemetry.record_usage(span, 5, 40, 0, 0, None, None)

    agent = by_name(spans)["invoke_agent"]
    assert dict(agent.attributes) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "tandem",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.conversation.id": "4242",
    }
    first, second = (s for s in spans.get_finished_spans() if s.name == "chat claude-sonnet-4-5")
    assert first.parent.span_id == agent.context.span_id
    assert first.kind is SpanKind.CLIENT
    assert first.attributes["gen_ai.operation.name"] == "chat"
    assert first.attributes["gen_ai.provider.name"] == "anthropic"
    assert first.attributes["gen_ai.request.model"] == "claude-sonnet-4-5"
    assert first.attributes["gen_ai.conversation.id"] == "4242"
    # The convention's input_tokens includes cached tokens; Anthropic's does not.
    assert first.attributes["gen_ai.usage.input_tokens"] == 12 + 1000 + 200
    assert first.attributes["gen_ai.usage.output_tokens"] == 80
    assert first.attributes["gen_ai.usage.cache_read.input_tokens"] == 1000
    assert first.attributes["gen_ai.usage.cache_creation.input_tokens"] == 200
    assert first.attributes["gen_ai.response.finish_reasons"] == ("tool_use",)
    assert first.attributes["gen_ai.response.model"] == "claude-sonnet-4-5-2025"
    assert "gen_ai.response.finish_reasons" not in second.attributes
    assert "gen_ai.response.model" not in second.attributes
    tool = by_name(spans)["execute_tool list_events"]
    assert tool.parent.span_id == agent.context.span_id
    assert tool.attributes["gen_ai.tool.call.id"] == "toolu_01"


def test_content_is_not_captured_by_default(spans: InMemorySpanExporter) -> None:
    assert telemetry.capture_content() is False
    with telemetry.chat("m", CHAT_ID) as span:
        telemetry.record_content(span, "gen_ai.input.messages", [{"role": "user"}])
        telemetry.record_content(span, "gen_ai.output.messages", "Lunch at one.")
        with telemetry.execute_tool("list_events", "t1", CHAT_ID, {"day": "Friday"}) as tool:
            telemetry.record_content(tool, "gen_ai.tool.call.result", {"events": []})

    for span in spans.get_finished_spans():
        assert not [key for key in span.attributes if "messages" in key or "tool.call.a" in key]
        assert "gen_ai.tool.call.result" not in span.attributes


def test_content_is_captured_when_enabled(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telemetry, "_capture", True)
    messages = [{"role": "user", "parts": [{"type": "text", "content": "Lunch – when?"}]}]
    with telemetry.chat("m", CHAT_ID) as span:
        telemetry.record_content(span, "gen_ai.input.messages", messages)
        telemetry.record_content(span, "gen_ai.output.messages", "At one.")
    with telemetry.execute_tool("list_events", "t1", CHAT_ID, {"day": "Friday"}) as tool:
        telemetry.record_content(tool, "gen_ai.tool.call.result", {"events": ["Lunch"]})

    found = by_name(spans)
    assert json.loads(found["chat m"].attributes["gen_ai.input.messages"]) == messages
    assert "–" in found["chat m"].attributes["gen_ai.input.messages"]  # not \u-escaped
    assert found["chat m"].attributes["gen_ai.output.messages"] == "At one."
    tool_span = found["execute_tool list_events"]
    assert json.loads(tool_span.attributes["gen_ai.tool.call.arguments"]) == {"day": "Friday"}
    assert json.loads(tool_span.attributes["gen_ai.tool.call.result"]) == {"events": ["Lunch"]}


def test_an_exception_marks_the_span_and_propagates(spans: InMemorySpanExporter) -> None:
    with (
        pytest.raises(TimeoutError),
        telemetry.invoke_workflow("tomorrow", CHAT_ID),
        telemetry.execute_tool("weather", None, CHAT_ID),
    ):
        raise TimeoutError("forecast service")

    found = by_name(spans)
    for name in ("execute_tool weather", "invoke_workflow tomorrow"):
        assert found[name].status.status_code is StatusCode.ERROR
        assert found[name].attributes["error.type"] == "TimeoutError"


async def test_spans_nest_across_awaits(spans: InMemorySpanExporter) -> None:
    async def tool() -> None:
        with telemetry.execute_tool("list_events", "t1", CHAT_ID):
            pass

    with telemetry.invoke_agent("m", CHAT_ID):
        await tool()

    found = by_name(spans)
    assert found["execute_tool list_events"].parent.span_id == found["invoke_agent"].context.span_id


def test_setup_without_an_endpoint_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    installed: list[object] = []
    monkeypatch.setattr(trace, "set_tracer_provider", installed.append)

    assert telemetry.setup_tracing(TelemetrySettings(capture_content=True)) is False

    assert installed == []
    assert telemetry._provider is None
    assert telemetry.capture_content() is False


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Records every attempt to open a connection instead of making it."""
    attempts: list[object] = []
    monkeypatch.setattr(socket.socket, "connect", lambda _sock, address: attempts.append(address))
    monkeypatch.setattr(
        socket, "create_connection", lambda address, *_a, **_k: attempts.append(address)
    )
    return attempts


@pytest.fixture
def exporters(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """The keyword arguments of every OTLP exporter setup_tracing makes (a real one each time)."""
    made: list[dict[str, object]] = []

    class Recording(trace_exporter.OTLPSpanExporter):
        def __init__(self, **kwargs: object) -> None:
            made.append(kwargs)
            super().__init__(**kwargs)

    monkeypatch.setattr(trace_exporter, "OTLPSpanExporter", Recording)
    return made


def test_setup_with_an_endpoint_installs_an_exporter_without_network_io(
    monkeypatch: pytest.MonkeyPatch,
    unused_port: int,
    no_connections: list[object],
    exporters: list[dict[str, object]],
) -> None:
    installed: list[TracerProvider] = []
    monkeypatch.setattr(trace, "set_tracer_provider", installed.append)
    settings = TelemetrySettings(
        otlp_endpoint=f"http://127.0.0.1:{unused_port}/", capture_content=True, service_name="t"
    )

    assert telemetry.setup_tracing(settings) is True
    assert telemetry.setup_tracing(settings) is True  # twice: still one provider

    try:
        assert len(installed) == 1
        assert isinstance(installed[0], TracerProvider)
        assert installed[0].resource.attributes["service.name"] == "t"
        assert exporters == [{"endpoint": f"http://127.0.0.1:{unused_port}/v1/traces"}]
        assert telemetry.capture_content() is True
    finally:
        installed[0].shutdown()  # no spans were made, so nothing is sent
    assert no_connections == []


def test_setup_reads_the_endpoint_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    unused_port: int,
    no_connections: list[object],
    exporters: list[dict[str, object]],
) -> None:
    installed: list[TracerProvider] = []
    monkeypatch.setattr(trace, "set_tracer_provider", installed.append)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{unused_port}")

    assert telemetry.setup_tracing(TelemetrySettings()) is True

    try:
        assert exporters == [{}]  # the exporter reads the variable and adds /v1/traces itself
        assert telemetry.capture_content() is False
    finally:
        installed[0].shutdown()
    assert no_connections == []


async def test_a_real_workflow_run_is_traced_with_its_chat(
    spans: InMemorySpanExporter, make_assistant, week
) -> None:
    await make_assistant(week).handle(Incoming(77, 77, "What's on tomorrow?"))

    found = by_name(spans)
    workflow, tool = found["invoke_workflow calendar"], found["execute_tool search_calendar"]
    assert tool.parent is not None and tool.parent.span_id == workflow.context.span_id
    assert workflow.attributes["gen_ai.conversation.id"] == "77"
    assert tool.attributes["gen_ai.conversation.id"] == "77"
    assert "gen_ai.tool.call.arguments" not in tool.attributes  # content capture is off
