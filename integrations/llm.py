"""Claude through the anthropic SDK: a request in, a typed completion out.

The SDK reads ANTHROPIC_BASE_URL by itself, so a self-hosted proxy or a local fake just works.
It also retries 408, 429, 529, 5xx answers and timeouts with backoff and jitter, honouring
`retry-after` (`max_retries` times), so no retry loop is written here. Its `timeout` is per
attempt, and it waits whatever `retry-after` says; so the whole call, retries and waits included,
also runs under one deadline of `timeout_seconds`: past it, Claude "could not answer in time".

What comes back is read by its stop reason (platform docs, "Handling stop reasons"): a reply cut
off by `max_tokens` is continued once, a `pause_turn` is sent back once to let Claude go on, and
anything still unfinished says so in `Completion.shortfall`, in words fit for the user. Thinking
blocks stay in `content` unchanged, since a tool loop must pass them back as they came; empty
text blocks are dropped, since the API rejects them in a request. A 200 whose body is not a
Message raises `ModelFailure`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import anthropic

log = logging.getLogger(__name__)

Effort = Literal["low", "medium", "high", "xhigh", "max"]

# What the SDK's StopReason may say; anything else is an unexpected answer.
STOP_REASONS = {
    "end_turn",
    "stop_sequence",
    "tool_use",
    "max_tokens",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
}
# Why an answer is not one, in words for the user; a missing text is the last entry's.
SHORTFALLS = {
    "max_tokens": "Claude's answer was cut off",
    "model_context_window_exceeded": "our conversation grew too long for Claude",
    "refusal": "Claude declined to answer this",
    "pause_turn": "Claude paused before it had answered",
    "": "Claude gave no answer",
}
# No prefill on current models: a cut-off reply is continued by asking in a user turn.
CONTINUE = "Your reply was cut off. Continue it from exactly where it stopped, repeating nothing."


@dataclass(frozen=True)
class Completion:
    """One model call's answer: its content blocks as the API's JSON (what to send back in a
    tool loop, thinking included), why it stopped, and what it cost."""

    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    model_calls: int = 1  # two when a cut-off or paused reply was continued

    @property
    def text(self) -> str:
        return "".join(b["text"] for b in self.content if b["type"] == "text").strip()

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return [block for block in self.content if block["type"] == "tool_use"]

    @property
    def thinking(self) -> list[dict[str, Any]]:
        return [b for b in self.content if b["type"] in ("thinking", "redacted_thinking")]

    @property
    def shortfall(self) -> str | None:
        """Why this is not a usable final answer, in words for the user; None if it is one."""
        if self.stop_reason in SHORTFALLS:
            return SHORTFALLS[self.stop_reason]
        return None if self.text else SHORTFALLS[""]

    def then(self, more: Completion) -> Completion:
        """This answer followed by its continuation, as one."""
        return Completion(
            [*self.content, *more.content],
            more.stop_reason,
            self.input_tokens + more.input_tokens,
            self.output_tokens + more.output_tokens,
            self.cache_read_tokens + more.cache_read_tokens,
            self.cache_write_tokens + more.cache_write_tokens,
            self.model_calls + more.model_calls,
        )


@dataclass(frozen=True)
class StepEffort:
    """`output_config.effort` for each kind of call: adaptive thinking is on by default, and
    effort sets how much of `max_tokens` it may use."""

    answer: Effort = "low"  # writing a reply from what the workflow found
    agent: Effort = "medium"  # each call of the agent's tool loop
    understanding: Effort = "low"  # reading a question into the workflow's search


class LlmError(Exception):
    """Claude could not answer. The message is fit to show to the user."""


class ModelFailure(LlmError):
    """Claude's API answered 200, but not with a message Tandem can read."""


class Claude:
    def __init__(
        self,
        api_key: str,
        model: str,
        max_tokens: int,
        timeout_seconds: float,
        max_retries: int = 2,
        base_url: str | None = None,
        effort: StepEffort = StepEffort(),
    ) -> None:
        """`base_url` None means the SDK's choice: ANTHROPIC_BASE_URL, else the real API.

        `timeout_seconds` bounds each attempt and the whole call with its retries.
        """
        self.model = model
        self.max_tokens = max_tokens
        self.timeout_seconds = timeout_seconds
        self.effort = effort
        self._connection: dict[str, Any] = {
            "api_key": api_key,
            "timeout": timeout_seconds,
            "max_retries": max_retries,
            "base_url": base_url,
        }

    @functools.cached_property
    def _client(self) -> anthropic.AsyncAnthropic:
        # Imported at the first call: the SDK takes 0.7 s of CPU and 55 MB to import, which
        # a template answer, or a bot still starting, need not wait for.
        import anthropic

        return anthropic.AsyncAnthropic(**self._connection)

    def warm_up(self) -> None:
        """Load the SDK now (blocking), e.g. in a thread while a server waits for questions."""
        _ = self._client

    async def write(self, system: str, messages: list[dict[str, Any]]) -> Completion:
        """One reply without tools (the workflow's answer step)."""
        return await self._complete(self.effort.answer, system=system, messages=messages)

    async def extract(
        self, system: str, messages: list[dict[str, Any]], schema: dict[str, Any]
    ) -> Completion:
        """One reply whose text is JSON matching `schema` (a JSON schema, e.g. a pydantic
        model's), through structured outputs (`output_config.format`). Never continued: a
        cut-off JSON text is not finished by asking again, the caller falls back instead."""
        import anthropic

        # The SDK's own conversion (what `messages.parse` sends): every object closed with
        # `additionalProperties: false`, constraints the API does not take moved into descriptions.
        output_format = {"type": "json_schema", "schema": anthropic.transform_schema(schema)}
        return await self._create(
            self.effort.understanding, output_format, system=system, messages=messages
        )

    async def converse(
        self, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> Completion:
        """One turn of a tool-using conversation. The system prompt and the tools are marked
        for prompt caching, so every call after the first reads them from the cache."""
        cached = {"type": "ephemeral"}
        return await self._complete(
            self.effort.agent,
            system=[{"type": "text", "text": system, "cache_control": cached}],
            messages=messages,
            tools=[*tools[:-1], {**tools[-1], "cache_control": cached}] if tools else [],
        )

    async def _complete(
        self, effort: Effort, messages: list[dict[str, Any]], **request: Any
    ) -> Completion:
        """One call, and one more to finish a reply that was cut off or paused."""
        first = await self._create(effort, messages=messages, **request)
        follow_up = _continuation(first)
        if follow_up is None:
            return first
        return first.then(await self._create(effort, messages=[*messages, *follow_up], **request))

    async def _create(
        self, effort: Effort, output_format: dict[str, Any] | None = None, **request: Any
    ) -> Completion:
        import anthropic

        output_config: dict[str, Any] = {"effort": effort}
        if output_format is not None:
            output_config["format"] = output_format
        try:
            async with asyncio.timeout(self.timeout_seconds):
                response = await self._client.messages.create(
                    model=self.model,
                    max_tokens=self.max_tokens,
                    output_config=output_config,
                    **request,
                )
        except TimeoutError:
            raise LlmError(
                f"Claude did not answer within {self.timeout_seconds:g} seconds."
            ) from None
        except anthropic.AuthenticationError:
            raise LlmError("Claude refused the API key (check ANTHROPIC_API_KEY).") from None
        except anthropic.RateLimitError:
            raise LlmError("Claude is rate-limiting this key right now.") from None
        except anthropic.APIStatusError as exc:
            raise _status_error(exc) from exc
        except anthropic.APITimeoutError:
            raise LlmError(
                f"Claude did not answer within {self.timeout_seconds:g} seconds."
            ) from None
        except anthropic.APIError:
            raise LlmError("Claude could not be reached.") from None
        except ValueError as exc:  # a 200 whose body is not JSON, e.g. cut off on the way
            log.warning("Claude's answer was not JSON: %s", exc)
            raise ModelFailure("Claude's answer arrived garbled.") from exc
        return _completion(response)


def _status_error(exc: anthropic.APIStatusError) -> LlmError:
    """The error for an HTTP error answer; a rejected request is logged with the API's words."""
    if exc.status_code == 529:
        return LlmError("Claude is overloaded right now.")
    if exc.status_code >= 500:
        return LlmError(f"Claude answered with an error (HTTP {exc.status_code}).")
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    message = str(error.get("message") or exc.message)
    log.error(
        "Claude rejected the request (HTTP %s %s, request %s): %s",
        exc.status_code,
        error.get("type", "?"),
        exc.request_id,
        message,
    )
    return LlmError(f"Claude rejected the request (HTTP {exc.status_code}: {message[:200]}).")


def _completion(response: Any) -> Completion:
    """The Completion in a parsed Message; ModelFailure if it is not a whole one."""
    try:
        usage = response.usage
        blocks = [block.model_dump(exclude_none=True) for block in response.content]
        stop_reason, details = response.stop_reason, response.stop_details
        input_tokens, output_tokens = int(usage.input_tokens), int(usage.output_tokens)
        if details is not None:
            log.info("Claude refused (%s): %s", details.category, details.explanation)
    except (AttributeError, TypeError, ValueError) as exc:
        log.warning("Claude's answer was not a whole message: %r", response)
        raise ModelFailure("Claude's answer arrived incomplete.") from exc
    if stop_reason not in STOP_REASONS:
        log.warning("Claude stopped for an unknown reason: %r", stop_reason)
        raise ModelFailure(f"Claude stopped for a reason Tandem does not know ({stop_reason}).")
    return Completion(
        # Empty text blocks come back at times, and the API rejects them when sent back.
        [b for b in blocks if not (b.get("type") == "text" and not b.get("text"))],
        stop_reason,
        input_tokens,
        output_tokens,
        usage.cache_read_input_tokens or 0,
        usage.cache_creation_input_tokens or 0,
    )


def _continuation(completion: Completion) -> list[dict[str, Any]] | None:
    """The turns that let Claude finish an unfinished answer, or None if there is none to ask.

    A paused turn goes back as it is (the docs' way to resume it). A reply cut off by
    `max_tokens` goes back with a request to go on, unless it was cut inside a tool call, whose
    input may be incomplete, or before any text was written.
    """
    if completion.stop_reason == "pause_turn" and completion.content:
        return [{"role": "assistant", "content": completion.content}]
    if completion.stop_reason == "max_tokens" and completion.text and not completion.tool_calls:
        return [
            {"role": "assistant", "content": completion.content},
            {"role": "user", "content": [{"type": "text", "text": CONTINUE}]},
        ]
    return None
