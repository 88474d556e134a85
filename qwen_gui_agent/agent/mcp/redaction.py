"""Secrets declared for the server never cross the MCP wire, in either direction.

The runs keep secrets out at the source (agent/runtime/secrets.py): placeholders
in prompts and records, values put in only as the device types them, answers
and free text redacted. The tools redact the free text of their results. This
middleware is the wire's own guard, for what the tools do not write themselves:

- in: a client that sends a declared secret's value in a tool argument (``type``
  it, say) has it replaced by its ``{{secret:NAME}}`` placeholder before the call
  runs, so the value is typed but never recorded or echoed;
- out: the text of a tool error (the SDK's own argument errors quote what was
  sent) and the message of a protocol error are redacted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.shared.exceptions import MCPError

from ..runtime.secrets import Secrets


def secret_guard(secrets: Secrets) -> ServerMiddleware[Any]:
    async def guard(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        is_call = ctx.method == "tools/call"
        params = ctx.params
        if is_call and isinstance(params, Mapping) and isinstance(params.get("arguments"), Mapping):
            ctx = replace(ctx, params={**params, "arguments": _placeholders(secrets, params["arguments"])})
        try:
            result = await call_next(ctx)
        except MCPError as error:
            raise MCPError(
                code=error.error.code,
                message=secrets.redact(error.error.message),
                data=secrets.redact_data(error.error.data),
            ) from None
        if is_call and isinstance(result, Mapping) and result.get("isError"):
            return {**result, "content": [_redacted_block(secrets, block) for block in result.get("content", [])]}
        return result

    return guard


def _placeholders(secrets: Secrets, value: Any) -> Any:
    """Every string in a tool's arguments with each secret's value replaced by its placeholder.

    As for a model's answer (``redact_answer``): a value under six characters is replaced only as a whole word,
    so a one-letter secret does not break every word that holds the letter.
    """
    if isinstance(value, str):
        return secrets.redact_answer(value)
    if isinstance(value, Mapping):
        return {key: _placeholders(secrets, item) for key, item in value.items()}
    if isinstance(value, list):
        return [_placeholders(secrets, item) for item in value]
    return value


def _redacted_block(secrets: Secrets, block: Any) -> Any:
    if isinstance(block, Mapping) and block.get("type") == "text" and isinstance(block.get("text"), str):
        return {**block, "text": secrets.redact(block["text"])}
    return block
