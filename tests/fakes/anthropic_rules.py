"""What the Messages API rejects, as its documentation says, checked on a request's JSON body.

`rejection(request)` is None for a request the API would take, else the error it answers with:
the HTTP status and the documented body, `{"type": "error", "error": {"type", "message"}}`.
The fake Messages API (tests/fakes/anthropic_server.py) answers with it, and tests/conftest.py
checks every request Tandem's Claude client sends against it, so that no test passes with a
request the real API would refuse.

Sources (platform.claude.com docs, read 2026-11-29): "Claude API errors" (the error shape and
types), "Handle tool calls" (tool_result blocks first in the next user turn, one per tool_use
id), "Prompt caching" (at most 4 cache_control breakpoints), "Stop reasons" (a paused turn is
sent back as the last, assistant, message), and the Claude Sonnet 5.5 migration guide (no
assistant prefill, no sampling parameters, no forced tool choice, no thinking "disabled" or
thinking budgets; effort low to max). Model names: the installed SDK's `ModelParam`.
Structured outputs ("Structured outputs", its "JSON Schema limitations"): `output_config.format`
is `{"type": "json_schema", "schema": ...}`; every object must set `additionalProperties: false`;
numerical constraints (minimum, maximum, multipleOf), string length constraints, array
constraints other than `minItems` 0 or 1, recursive and external `$ref`s, enums of anything but
primitives and string formats other than the listed ones are not supported. The error wording
follows the API's "output_config.format.schema: Invalid schema: ..." (seen in reports of it).
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Any

from anthropic.types.model_param import ModelParam

MODELS = set(typing.get_args(typing.get_args(ModelParam)[0]))
EFFORTS = ("low", "medium", "high", "xhigh", "max")
SONNET_5_5 = "claude-sonnet-5-5"
# The Claude 5 generation: adaptive thinking, no sampling parameters, no prefill.
FIFTH = re.compile(r"^claude-[a-z]+-5(-|$)")
MAX_BREAKPOINTS = 4


@dataclass(frozen=True)
class ApiError:
    status: int
    type: str
    message: str

    def body(self, request_id: str) -> dict[str, Any]:
        error = {"type": self.type, "message": self.message}
        return {"type": "error", "error": error, "request_id": request_id}


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


def rejection(request: dict[str, Any]) -> ApiError | None:
    """The error the API answers `request` with, or None if it would take it."""
    model = request.get("model")
    if not isinstance(request.get("max_tokens"), int) or request["max_tokens"] < 1:
        return invalid("max_tokens: Field required")
    if model not in MODELS:
        return ApiError(404, "not_found_error", f"model: {model}")
    checks = (_sampling, _thinking, _effort, _output_format, _tool_choice, _messages, _breakpoints)
    for check in checks:
        if (error := check(request, str(model))) is not None:
            return error
    return None


def _sampling(request: dict[str, Any], model: str) -> ApiError | None:
    if not FIFTH.match(model):
        return None
    for name in ("temperature", "top_p", "top_k"):
        if name in request and not (name == "temperature" and request[name] == 1):
            return invalid(f"{name}: sampling parameters are not supported on {model}")
    return None


def _thinking(request: dict[str, Any], model: str) -> ApiError | None:
    kind = (request.get("thinking") or {}).get("type")
    if kind == "disabled" and model == SONNET_5_5:
        return invalid(
            f"thinking.type: 'disabled' is not supported on {model}; "
            "use 'between_tools' to turn off up-front thinking"
        )
    if kind == "enabled" and FIFTH.match(model):
        return invalid(f"thinking.type: 'enabled' (a thinking budget) is not supported on {model}")
    return None


def _effort(request: dict[str, Any], model: str) -> ApiError | None:
    effort = (request.get("output_config") or {}).get("effort")
    if effort is not None and effort not in EFFORTS:
        return invalid(
            "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"
        )
    return None


STRING_FORMATS = {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4",
                  "ipv6", "uuid"}  # fmt: skip
UNSUPPORTED = (
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
    "maxLength", "maxItems", "uniqueItems", "contains", "minProperties", "maxProperties",
    "patternProperties", "propertyNames", "not", "if", "then", "else", "dependentRequired",
    "dependentSchemas", "unevaluatedProperties", "unevaluatedItems",
)  # fmt: skip


def _output_format(request: dict[str, Any], model: str) -> ApiError | None:
    output_format = (request.get("output_config") or {}).get("format")
    if output_format is None:
        return None
    if output_format.get("type") != "json_schema" or not isinstance(
        output_format.get("schema"), dict
    ):
        return invalid("output_config.format: Input tag should be 'json_schema' with a 'schema'")
    schema = output_format["schema"]
    problem = _schema_problem(schema, schema.get("$defs") or {}, ())
    return None if problem is None else invalid(f"output_config.format.schema: {problem}")


def _schema_problem(
    schema: Any, definitions: dict[str, Any], following: tuple[str, ...]
) -> str | None:
    """What makes a JSON schema one structured outputs cannot take, or None."""
    if not isinstance(schema, dict):
        return "Invalid schema: a schema must be an object"
    for keyword in UNSUPPORTED:
        if keyword in schema:
            return f"Invalid schema: '{keyword}' is not supported"
    if schema.get("minItems", 0) not in (0, 1):
        return "Invalid schema: 'minItems' values other than 0 or 1 are not supported"
    if "format" in schema and schema["format"] not in STRING_FORMATS:
        return f"Invalid schema: string format '{schema['format']}' is not supported"
    if "enum" in schema and not all(
        value is None or isinstance(value, str | int | float | bool) for value in schema["enum"]
    ):
        return "Invalid schema: enum values must be strings, numbers, booleans or null"
    if (ref := schema.get("$ref")) is not None:
        name = str(ref).removeprefix("#/$defs/")
        if not str(ref).startswith("#/$defs/") or name not in definitions:
            return f"Invalid schema: the reference '{ref}' is not a local definition"
        if name in following:
            return f"Invalid schema: recursive schemas are not supported ('{ref}')"
        return _schema_problem(definitions[name], definitions, (*following, name))
    if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
        return "For 'object' type, 'additionalProperties' must be explicitly set to false"
    parts = [
        *(schema.get("properties") or {}).values(),
        *schema.get("anyOf", []),
        *schema.get("allOf", []),
        *([schema["items"]] if "items" in schema else []),
    ]
    return next(
        (found for part in parts if (found := _schema_problem(part, definitions, following))),
        None,
    )


def _tool_choice(request: dict[str, Any], model: str) -> ApiError | None:
    kind = (request.get("tool_choice") or {}).get("type", "auto")
    if model == SONNET_5_5 and kind not in ("auto", "none"):
        return invalid(
            f"tool_choice.type: '{kind}' is not supported on {model}; use 'auto' or 'none'"
        )
    return None


def _messages(request: dict[str, Any], model: str) -> ApiError | None:
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        return invalid("messages: Field required")
    asked: set[str] = set()  # the tool_use ids of the assistant turn just before
    for index, message in enumerate(messages):
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not blocks:
            return invalid(
                f"messages.{index}: all messages must have non-empty content except for the "
                "optional final assistant message"
            )
        if any(b.get("type") == "text" and not b.get("text") for b in blocks):
            return invalid("messages: text content blocks must be non-empty")
        if message.get("role") == "user":
            if (error := _tool_results(index, blocks, asked)) is not None:
                return error
            asked = set()
        else:
            if asked:
                return _missing_results(index - 1, asked)
            asked = {b["id"] for b in blocks if b.get("type") == "tool_use"}
    last = messages[-1]
    if last.get("role") == "assistant":
        content = last["content"]
        paused = isinstance(content, list) and any(
            block.get("type") == "server_tool_use" for block in content
        )
        if asked:
            return _missing_results(len(messages) - 1, asked)
        if FIFTH.match(model) and not paused:
            return invalid(
                "This model does not support assistant message prefill. "
                "The conversation must end with a user message."
            )
    return None


def _tool_results(index: int, blocks: list[dict[str, Any]], asked: set[str]) -> ApiError | None:
    """A user turn's tool_result blocks: first, one for every id asked for, none unknown."""
    kinds = [block.get("type") for block in blocks]
    results = [block for block in blocks if block.get("type") == "tool_result"]
    if results and kinds[: len(results)] != ["tool_result"] * len(results):
        return invalid(
            f"messages.{index}: tool_result blocks must come first in the user message content"
        )
    for number, block in enumerate(results):
        if block.get("tool_use_id") not in asked:
            return invalid(
                f"messages.{index}.content.{number}: unexpected `tool_use_id` found in "
                f"`tool_result` blocks: {block.get('tool_use_id')}. Each `tool_result` block "
                "must have a corresponding `tool_use` block in the previous message."
            )
    missing = asked - {block["tool_use_id"] for block in results}
    return _missing_results(index - 1, missing) if missing else None


def _missing_results(index: int, ids: set[str]) -> ApiError:
    return invalid(
        f"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately "
        f"after: {', '.join(sorted(ids))}. Each `tool_use` block must have a corresponding "
        "`tool_result` block in the next message."
    )


def _breakpoints(request: dict[str, Any], model: str) -> ApiError | None:
    system = request.get("system")
    places: list[Any] = [*request.get("tools", []), *(system if isinstance(system, list) else [])]
    for message in request["messages"]:
        if isinstance(message["content"], list):
            places.extend(message["content"])
    found = sum("cache_control" in place for place in places if isinstance(place, dict))
    if found > MAX_BREAKPOINTS:
        return invalid(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {found}."
        )
    return None
