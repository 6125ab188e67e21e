"""Claude through the anthropic SDK: a request in, content blocks and token counts out.

The SDK reads ANTHROPIC_BASE_URL by itself, so a self-hosted proxy or a local fake just works.
It also retries 408, 429, 529, 5xx answers and timeouts with backoff and jitter, honouring
`retry-after` (`max_retries` times), so no retry loop is written here. Its `timeout` is per
attempt, and it waits whatever `retry-after` says; so the whole call, retries and waits included,
also runs under one deadline of `timeout_seconds`: past it, Claude "could not answer in time".
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import anthropic


@dataclass(frozen=True)
class Completion:
    """One model call's answer: its content blocks (as the API's JSON), why it stopped, its cost."""

    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def text(self) -> str:
        return "".join(b["text"] for b in self.content if b["type"] == "text").strip()

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return [block for block in self.content if block["type"] == "tool_use"]


class LlmError(Exception):
    """Claude could not answer. The message is fit to show to the user."""


class Claude:
    def __init__(
        self,
        api_key: str,
        model: str,
        max_tokens: int,
        timeout_seconds: float,
        max_retries: int = 2,
        base_url: str | None = None,
    ) -> None:
        """`base_url` None means the SDK's choice: ANTHROPIC_BASE_URL, else the real API.

        `timeout_seconds` bounds each attempt and the whole call with its retries.
        """
        self.model = model
        self.max_tokens = max_tokens
        self.timeout_seconds = timeout_seconds
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
        """One Messages API call without tools."""
        return await self._create(system=system, messages=messages)

    async def converse(
        self, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> Completion:
        """One turn of a tool-using conversation. The system prompt and the tools are marked
        for prompt caching, so every call after the first reads them from the cache."""
        cached = {"type": "ephemeral"}
        return await self._create(
            system=[{"type": "text", "text": system, "cache_control": cached}],
            messages=messages,
            tools=[*tools[:-1], {**tools[-1], "cache_control": cached}] if tools else [],
        )

    async def _create(self, **request: Any) -> Completion:
        import anthropic

        try:
            async with asyncio.timeout(self.timeout_seconds):
                response = await self._client.messages.create(
                    model=self.model, max_tokens=self.max_tokens, **request
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
            if exc.status_code == 529:
                raise LlmError("Claude is overloaded right now.") from None
            raise LlmError(f"Claude answered with an error (HTTP {exc.status_code}).") from None
        except anthropic.APITimeoutError:
            raise LlmError(
                f"Claude did not answer within {self.timeout_seconds:g} seconds."
            ) from None
        except anthropic.APIError:
            raise LlmError("Claude could not be reached.") from None
        usage = response.usage
        return Completion(
            content=[block.model_dump(exclude_none=True) for block in response.content],
            stop_reason=response.stop_reason,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_input_tokens or 0,
            cache_write_tokens=usage.cache_creation_input_tokens or 0,
        )
