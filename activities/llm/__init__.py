"""LLM providers behind one `complete(LlmRequest) -> LlmResponse` interface."""
