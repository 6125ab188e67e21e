"""The one registry of tools, used by the workflow engine and the agent alike.

A tool is a plain typed function whose first parameter is the run's `ToolContext`. Its name,
description and JSON schema come from the function itself (signature and docstring), so nothing
about a tool is written twice. A tool only looks things up and has no effect outside: a durable
run journals its result with the step after it and, after a crash before that step, calls it
again (bot/engine/journal.py).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, get_type_hints, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from bot.formatting import View

if TYPE_CHECKING:
    from integrations.calendar import Event


class ToolInputError(ValueError):
    """The arguments given to a tool do not fit its signature."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    function: Callable[..., Any]
    arguments: type[BaseModel]

    @property
    def parameter_names(self) -> list[str]:
        return list(self.arguments.model_fields)

    def input_schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments, as the Messages API takes it."""
        schema = self.arguments.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return schema

    def call(self, context: Any, arguments: dict[str, Any]) -> Any:
        try:
            parsed = self.arguments.model_validate(arguments)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ToolInputError(f"{self.name}: {problems}") from None
        return self.function(context, **dict(parsed))


class ToolRegistry:
    def __init__(self, functions: list[Callable[..., Any]]) -> None:
        self._tools: dict[str, Tool] = {}
        for function in functions:
            self.register(function)

    def register(self, function: Callable[..., Any]) -> None:
        """Make `function` a tool under its own name."""
        summary, argument_docs = _parse_docstring(inspect.getdoc(function) or "")
        if not summary:
            raise TypeError(f"tool {function.__name__} needs a docstring: it is the model's manual")
        hints = get_type_hints(function)
        fields: dict[str, Any] = {}
        for parameter in list(inspect.signature(function).parameters.values())[1:]:
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            fields[parameter.name] = (
                hints[parameter.name],
                Field(default, description=argument_docs.get(parameter.name)),
            )
        arguments = create_model(
            f"{function.__name__}_arguments",
            __config__=ConfigDict(extra="forbid"),
            **fields,
        )
        self._tools[function.__name__] = Tool(function.__name__, summary, function, arguments)

    def get(self, name: str) -> Tool:
        return self._tools[name]

    def names(self) -> set[str]:
        return set(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into the description and the `Args:` entries."""
    head, _, args = doc.partition("\nArgs:\n")
    argument_docs: dict[str, str] = {}
    current = ""
    for line in args.splitlines():
        match = re.match(r"^\s{2,4}(\w+):\s*(.*)$", line)
        if match:
            current = match.group(1)
            argument_docs[current] = match.group(2)
        elif current and line.strip():
            argument_docs[current] += " " + line.strip()
        elif not line.strip():
            current = ""
    return head.strip(), argument_docs


class ToolResult(Protocol):
    """What every tool returns: something a model can read and a person can read."""

    def for_model(self) -> str: ...

    def for_person(self, view: View) -> str: ...


@runtime_checkable
class Focused(ToolResult, Protocol):
    """A result about one event, which a follow-up question ("and the weather?") then means."""

    @property
    def focus(self) -> Event | None: ...


@runtime_checkable
class Partial(ToolResult, Protocol):
    """A result with a part missing because the service behind it failed (the weather service
    down): `missing` says so, in words for a person; empty when nothing is missing."""

    @property
    def missing(self) -> str: ...


@runtime_checkable
class Spoken(ToolResult, Protocol):
    """A result that asks for a voice note: `spoken` is what to read aloud."""

    @property
    def spoken(self) -> str: ...
