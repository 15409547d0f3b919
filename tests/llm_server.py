"""A local OpenAI-compatible chat-completions server for tests, scripted reply by reply.

A stand-in for a model, not for the protocol: no real model can judge-ably diagnose here (SmolLM2 is
too weak, see stack notes; tests/test_llm_real_model.py runs it for the wire format), but the wire format is
OpenAI's (`POST /v1/chat/completions`, the `chat.completion` object, `tool_calls`, `usage`, `{"error": {...}}`
bodies), so the real `openai` client talks to it unchanged. Like the strictest real servers it refuses a
malformed conversation (400): every assistant `tool_calls` entry must be answered by a `tool` message before
the next turn, a tool message must answer a call that was made, and message content must be a string
(llama.cpp's server refuses an assistant `content: null`).

    async with LLMTestServer([ToolCalls([("get_pod", {...})], usage=(900, 40)), Answer({...})]) as srv:
        settings = LLMSettings(base_url=srv.base_url, api_key="test")
        ...
        srv.requests  # every request body received, in order
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class ToolCalls:
    calls: list[tuple[str, dict[str, Any] | str]]  # (function name, arguments as an object or raw text)
    content: str | None = None
    usage: tuple[int, int] = (100, 20)


@dataclass
class Answer:
    content: str | dict[str, Any]  # a dict is sent as its JSON text
    usage: tuple[int, int] = (100, 20)
    model: str | None = None  # the model name the server reports (e.g. a dated variant)


@dataclass
class HttpError:
    status: int
    message: str = "scripted failure"
    retry_after: float | None = None  # sent as the Retry-After header (e.g. with a 429)


@dataclass
class Slow:
    seconds: float
    then: Any = field(default_factory=lambda: Answer("{}"))


@dataclass
class RawBody:
    """An HTTP 200 whose body is whatever is given (e.g. not JSON at all)."""

    body: str
    content_type: str = "application/json"


class LLMTestServer:
    def __init__(self, script: list[Any], *, model: str = "test-model") -> None:
        self.script = list(script)
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.protocol_errors: list[str] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> "LLMTestServer":
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def remaining(self) -> int:
        return len(self.script)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "request body is not JSON")
        self.requests.append(body)
        problem = _check_conversation(body)
        if problem:
            self.protocol_errors.append(problem)
            return _error(400, problem, "invalid_request_error")
        if not self.script:
            return _error(500, "test script exhausted: the client made more calls than scripted")
        reply = self.script.pop(0)
        while isinstance(reply, Slow):
            await asyncio.sleep(reply.seconds)
            reply = reply.then
        if isinstance(reply, HttpError):
            response = _error(reply.status, reply.message)
            if reply.retry_after is not None:
                response.headers["Retry-After"] = str(reply.retry_after)
            return response
        if isinstance(reply, RawBody):
            return web.Response(status=200, text=reply.body, content_type=reply.content_type)
        return web.json_response(self._completion(body, reply))

    def _completion(self, body: dict[str, Any], reply: ToolCalls | Answer) -> dict[str, Any]:
        n = next(self._ids)
        message: dict[str, Any] = {"role": "assistant", "content": None}
        if isinstance(reply, ToolCalls):
            message["content"] = reply.content
            message["tool_calls"] = [
                {"id": f"call_{n}_{i}", "type": "function",
                 "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
                for i, (name, args) in enumerate(reply.calls)]
            finish = "tool_calls"
        else:
            message["content"] = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
            finish = "stop"
        prompt, completion = reply.usage
        model = (reply.model if isinstance(reply, Answer) and reply.model else None) or body.get("model") or self.model
        return {
            "id": f"chatcmpl-{n}", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }


def _error(status: int, message: str, kind: str = "server_error") -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "param": None, "code": None}}, status=status)


def _check_conversation(body: dict[str, Any]) -> str:
    """The checks the real API makes that a client bug would trip."""
    if not body.get("model"):
        return "model is required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    open_calls: set[str] = set()
    for i, m in enumerate(messages):
        role = m.get("role")
        if role not in ("system", "user", "assistant", "tool"):
            return f"messages[{i}].role {role!r} is invalid"
        if role == "tool":
            if m.get("tool_call_id") not in open_calls:
                return f"messages[{i}]: tool message answers no pending tool call"
            open_calls.discard(m["tool_call_id"])
            if not isinstance(m.get("content"), str):
                return f"messages[{i}].content must be a string"
            continue
        if open_calls:
            return f"messages[{i}]: tool calls {sorted(open_calls)} were not answered"
        if role == "assistant":
            # OpenAI takes null beside tool_calls, llama.cpp's server and LM Studio refuse it: a string works everywhere.
            if not isinstance(m.get("content"), str):
                return f"messages[{i}].content must be a string (null is refused by llama.cpp's server)"
            open_calls = {c["id"] for c in m.get("tool_calls") or []}
    if open_calls:
        return f"tool calls {sorted(open_calls)} were not answered"
    for tool in body.get("tools") or []:
        if tool.get("type") != "function" or not tool.get("function", {}).get("name"):
            return "every tool must be a named function"
    return ""
