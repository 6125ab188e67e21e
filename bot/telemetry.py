"""OpenTelemetry spans for Tandem, in the GenAI semantic conventions.

What is traced, one span each, nested as they happen:

- ``invoke_workflow {rule}``: a rule answering a message with its fixed steps;
- ``invoke_agent``: the agent loop answering a message;
- ``chat {model}``: one request to Claude, with its token usage (``record_usage``);
- ``execute_tool {name}``: one tool call, from a rule or from the model.

Every span carries ``gen_ai.conversation.id`` (the Telegram chat). A span that ends in an
exception gets status ERROR and ``error.type`` (the exception's class name).

Export is off unless an OTLP/HTTP endpoint is configured: ``telemetry.otlp_endpoint`` in the
config file (a base URL such as ``http://localhost:4318``) or the ``OTEL_EXPORTER_OTLP_ENDPOINT``
environment variable; ``setup_tracing`` then installs the SDK. Until then the OpenTelemetry API's
no-op tracer is used and a span costs a few microseconds.

Messages, tool arguments and tool results can hold personal data, so they are recorded only when
``telemetry.capture_content`` is true (and export is on).

Only the OpenTelemetry API is used here, except inside ``setup_tracing``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

if TYPE_CHECKING:
    from bot.config import TelemetrySettings

AGENT_NAME = "tandem"
PROVIDER = "anthropic"

_tracer = trace.get_tracer("tandem")  # a proxy: it follows the provider installed later, if any
_provider: object | None = None  # the SDK TracerProvider, once setup_tracing has installed it
_capture = False


def setup_tracing(settings: TelemetrySettings) -> bool:
    """Export spans over OTLP/HTTP if an endpoint is configured; tell whether it is.

    Without an endpoint nothing is installed and the no-op tracer stays. Calling this again
    only updates whether content is captured.
    """
    global _provider, _capture
    endpoint = settings.otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not endpoint:
        return False
    if _provider is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        if settings.otlp_endpoint:  # the exporter wants the full URL of the traces path
            exporter = OTLPSpanExporter(endpoint=_traces_url(settings.otlp_endpoint))
        else:  # it reads the environment variable and adds the path itself
            exporter = OTLPSpanExporter()
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.service_name}))
        provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        _provider = provider
    _capture = settings.capture_content
    return True


def capture_content() -> bool:
    """Whether messages, tool arguments and tool results go into spans."""
    return _capture


@contextmanager
def invoke_workflow(rule: str, conversation_id: int | str) -> Iterator[Span]:
    """A rule running its fixed steps."""
    with _span(
        f"invoke_workflow {rule}",
        SpanKind.INTERNAL,
        {
            "gen_ai.operation.name": "invoke_workflow",
            "gen_ai.workflow.name": rule,
            "gen_ai.conversation.id": str(conversation_id),
        },
    ) as span:
        yield span


@contextmanager
def invoke_agent(model: str, conversation_id: int | str) -> Iterator[Span]:
    """The agent loop: Claude choosing tools until it answers."""
    with _span(
        "invoke_agent",
        SpanKind.INTERNAL,
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": AGENT_NAME,
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.request.model": model,
            "gen_ai.conversation.id": str(conversation_id),
        },
    ) as span:
        yield span


@contextmanager
def chat(model: str, conversation_id: int | str) -> Iterator[Span]:
    """One request to the model; call ``record_usage`` with its response."""
    with _span(
        f"chat {model}",
        SpanKind.CLIENT,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.request.model": model,
            "gen_ai.conversation.id": str(conversation_id),
        },
    ) as span:
        yield span


def record_usage(
    span: Span,
    input_tokens: int,
    output_tokens: int,
    cache_read: int,
    cache_write: int,
    finish_reason: str | None,
    response_model: str | None,
) -> None:
    """Put a response's usage on its chat span; the arguments are Anthropic's ``usage`` fields.

    Anthropic's ``input_tokens`` leaves out cached tokens, while the convention's
    ``gen_ai.usage.input_tokens`` includes them, so the span gets the sum.
    """
    span.set_attributes(
        {
            "gen_ai.usage.input_tokens": input_tokens + cache_read + cache_write,
            "gen_ai.usage.output_tokens": output_tokens,
            "gen_ai.usage.cache_read.input_tokens": cache_read,
            "gen_ai.usage.cache_creation.input_tokens": cache_write,
        }
    )
    if finish_reason is not None:
        span.set_attribute("gen_ai.response.finish_reasons", [finish_reason])
    if response_model is not None:
        span.set_attribute("gen_ai.response.model", response_model)


@contextmanager
def execute_tool(
    name: str, call_id: str | None, conversation_id: int | str, arguments: dict | None = None
) -> Iterator[Span]:
    """One tool call; ``call_id`` is the model's tool_use id (None when a rule calls it)."""
    attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.type": "function",
        "gen_ai.conversation.id": str(conversation_id),
    }
    if call_id is not None:
        attributes["gen_ai.tool.call.id"] = call_id
    with _span(f"execute_tool {name}", SpanKind.INTERNAL, attributes) as span:
        if arguments is not None:
            record_content(span, "gen_ai.tool.call.arguments", arguments)
        yield span


def record_content(span: Span, name: str, value: object) -> None:
    """Set a content attribute (``gen_ai.input.messages``, ``gen_ai.output.messages``,
    ``gen_ai.tool.call.result``, ...) if content capture is on; a str as it is, else as JSON."""
    if _capture and span.is_recording():
        text = (
            value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        )
        span.set_attribute(name, text)


def record_error(span: Span, error_type: str, description: str) -> None:
    """Mark a span failed for an error that was handled rather than raised (a tool's error
    handed back to the caller)."""
    span.set_status(Status(StatusCode.ERROR, description))
    span.set_attribute("error.type", error_type)


@contextmanager
def _span(name: str, kind: SpanKind, attributes: dict[str, AttributeValue]) -> Iterator[Span]:
    # The API sets status ERROR and records the exception; the convention adds error.type.
    with _tracer.start_as_current_span(name, kind=kind, attributes=attributes) as span:
        try:
            yield span
        except Exception as exc:
            span.set_attribute("error.type", type(exc).__qualname__)
            raise


def _traces_url(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"
