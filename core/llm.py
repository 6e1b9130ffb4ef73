"""The model protocol: messages, tool calls, requests and replies of `llm.complete` and `llm.summarize`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from core.frozen import Frozen
from core.live import TextPiece

# ── model protocol ──────────────────────────────────────────────────────────


class ToolCall(Frozen):
    """A tool call as proposed by the model; ids are rewritten by the workflow to `t<turn>-<n>`."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    # Set when the model's arguments were not a JSON object; routing turns it into an observation.
    arguments_error: str | None = None


class ChatMessage(Frozen):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


class ToolSchema(Frozen):
    """What the model sees of a tool: OpenAI `function` shape."""

    name: str
    description: str
    parameters: dict[str, Any]


class ModelSettings(Frozen):
    """Sampling settings; which provider and endpoint is worker config, never workflow input."""

    model: str | None = Field(None, max_length=200, description="None: the worker's LLM_MODEL")
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_output_tokens: int = Field(384, ge=16, le=8192)
    seed: int = 7


class TokenUsage(Frozen):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class PriceQuote(Frozen):
    """The price a model call was charged at, recorded with its reply: a run's cost is reproducible from
    its history alone, whatever the worker's price list says later."""

    input_per_mtok: float = Field(ge=0.0, le=1000.0, description="USD per million prompt tokens")
    output_per_mtok: float = Field(ge=0.0, le=1000.0, description="USD per million completion tokens")
    source: str = Field(max_length=100, description="LLM_PRICE, genai-prices <version>, or table <version>")


class LlmRequest(Frozen):
    workflow_id: str
    turn: int
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolSchema, ...] = ()
    settings: ModelSettings = ModelSettings()
    prompt_version: str
    # The static part of the prompt by reference, so it is not stored again in history on every turn:
    # the worker puts back the agent's tool schemas (`tools_of_agent`) and the system prompt of
    # `prompt_version` (`system_by_version`) before the provider sees the request
    # (activities/llm/expand.py). A worker that does not serve the agent refuses the request.
    agent: str | None = None
    tools_of_agent: bool = False
    system_by_version: bool = False
    # The run's own price (RunBudgets.price) for a model the worker cannot price; None: the worker's.
    price: PriceQuote | None = None
    # The run has a workflow stream: the activity streams the reply and publishes its text there.
    live: bool = False


class LlmResponse(Frozen):
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: TokenUsage = TokenUsage()
    model: str = ""
    finish_reason: str | None = None
    # Set when the reply tried to call a tool but could not be parsed; the model is told.
    parse_error: str | None = None
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    # None only in replies recorded before prices travelled with them.
    price: PriceQuote | None = None
    # Set when the reply was refused whole (too large to carry): the model is told why, nothing else kept.
    rejected: str | None = None
    # The reply's live text not yet on the run's stream (activities/llm/live.py): published by the
    # workflow as it takes the reply in, instead of by a signal of its own.
    live_tail: tuple[TextPiece, ...] = ()


class SummarizeRequest(Frozen):
    """`llm.summarize`: fold old turns into the running summary, keeping the agent's identifiers."""

    workflow_id: str
    agent: str | None = None  # whose `keep_exact` patterns the summary must keep verbatim
    previous_summary: str = ""
    turns: tuple[ChatMessage, ...]
    settings: ModelSettings = ModelSettings()
    price: PriceQuote | None = None  # the run's own price, as in LlmRequest.price


class SummarizeResult(Frozen):
    summary: str
    usage: TokenUsage = TokenUsage()
    cost_usd: float = 0.0
    model: str = ""
    # Facts the model dropped and code put back; non-zero means the model paraphrased them away.
    restored: int = 0
