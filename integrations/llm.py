"""Claude through the anthropic SDK: one call in, text and token counts out.

The SDK reads ANTHROPIC_BASE_URL by itself, so a self-hosted proxy or a local fake just works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import anthropic


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


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
    ) -> None:
        # Imported here: the SDK takes 0.7 s to import, and without a key it is never needed.
        import anthropic

        self.model = model
        self.max_tokens = max_tokens
        self._client: anthropic.AsyncAnthropic = anthropic.AsyncAnthropic(
            api_key=api_key, timeout=timeout_seconds, max_retries=max_retries
        )

    async def write(self, system: str, messages: list[dict[str, Any]]) -> Completion:
        """One Messages API call without tools; the reply's text blocks joined."""
        import anthropic

        try:
            response = await self._client.messages.create(
                model=self.model,
                max_tokens=self.max_tokens,
                system=system,
                messages=messages,
            )
        except anthropic.AuthenticationError:
            raise LlmError("Claude refused the API key (check ANTHROPIC_API_KEY).") from None
        except anthropic.RateLimitError:
            raise LlmError("Claude is rate-limiting this key right now.") from None
        except anthropic.APIStatusError as exc:
            if exc.status_code == 529:
                raise LlmError("Claude is overloaded right now.") from None
            raise LlmError(f"Claude answered with an error (HTTP {exc.status_code}).") from None
        except anthropic.APIError:
            raise LlmError("Claude could not be reached.") from None
        text = "".join(block.text for block in response.content if block.type == "text")
        usage = response.usage
        return Completion(
            text=text.strip(),
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_input_tokens or 0,
            cache_write_tokens=usage.cache_creation_input_tokens or 0,
        )
