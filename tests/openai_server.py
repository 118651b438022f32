"""A local HTTP server speaking the OpenAI chat-completions protocol, for tests.

It answers ``POST /v1/chat/completions`` (plain JSON or SSE streaming with a final usage
chunk when ``stream_options.include_usage`` is set) from a script of :class:`Reply`
objects, one per request, so a test can play a model that calls tools, answers, fails
with an HTTP status (429, 500, 401), stalls past the client's timeout, or sends a
malformed tool call. With the script empty it plays ``policy`` (a function from the
request body to a :class:`Reply`, e.g. a model that reads the agent's state section), by
default a small honest agent: search the catalog, then answer with ``ChatAnswer`` (or
``CandidateRanking`` in the given order). Every request body is recorded in ``requests``
for assertions.

Usage::

    with OpenAIServer() as server:
        server.script += [Reply.error(429), Reply.text("hello")]
        ChatOpenAI(base_url=server.base_url, api_key="k", ...)
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer."""

    content: str = ""
    tool_calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)
    status: int = 200
    delay_s: float = 0.0

    @classmethod
    def text(cls, content: str) -> Reply:
        return cls(content=content)

    @classmethod
    def call(cls, name: str, **args: Any) -> Reply:
        return cls(tool_calls=[(name, args)])

    @classmethod
    def error(cls, status: int) -> Reply:
        return cls(status=status)

    @classmethod
    def stall(cls, seconds: float) -> Reply:
        return cls(content="too late", delay_s=seconds)

    @classmethod
    def malformed(cls) -> Reply:
        """A tool call whose arguments are not JSON."""
        return cls(tool_calls=[("search_catalog", "query=dreamy ambient, k=eight")])


ERRORS = {
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    429: ("rate_limit_exceeded", "rate_limit_exceeded", "Rate limit reached; retry later."),
    500: ("server_error", None, "The server had an error while processing your request."),
}


class OpenAIServer:
    """Start with ``with OpenAIServer() as s`` (or :meth:`start`/:meth:`stop`)."""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.script: list[Reply] = []
        self.policy: Callable[[dict[str, Any]], Reply] = default_reply
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> OpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            return self.script.pop(0) if self.script else self.policy(body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.endswith("/chat/completions"):
                    return self._json(404, {"error": {"message": "not found"}})
                key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if server.api_key is not None and key != server.api_key:
                    server.next_reply(body)  # recorded, not answered
                    return self._error(401)
                reply = server.next_reply(body)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.status != 200:
                    return self._error(reply.status)
                if body.get("stream"):
                    return self._stream(body, reply)
                return self._json(200, completion(body, reply))

            def _error(self, status: int) -> None:
                kind, code, message = ERRORS.get(status, ("error", None, f"HTTP {status}"))
                self._json(status, {"error": {"message": message, "type": kind, "code": code}})

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # The client may have given up (a timeout test): nothing to answer then.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

            def _stream(self, body: dict[str, Any], reply: Reply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    for chunk in stream_chunks(body, reply):
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")

        return Handler


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, int]:
    prompt = sum(len(str(m.get("content") or "").split()) + 4 for m in body.get("messages", []))
    completion_tokens = len(reply.content.split()) + 10 * len(reply.tool_calls)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }


def _tool_calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {
                "name": name,
                "arguments": args if isinstance(args, str) else json.dumps(args),
            },
        }
        for i, (name, args) in enumerate(reply.tool_calls)
    ]


def completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
    if reply.tool_calls:
        message["tool_calls"] = _tool_calls(reply)
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "test-model"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": _usage(body, reply),
    }


def stream_chunks(body: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
    base = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": body.get("model", "test-model"),
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    words = reply.content.split(" ") if reply.content else []
    chunks += [chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(words)]
    for i, call in enumerate(_tool_calls(reply)):
        arguments = call["function"]["arguments"]
        half = len(arguments) // 2
        chunks.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": call["id"],
                            "type": "function",
                            "function": {
                                "name": call["function"]["name"],
                                "arguments": arguments[:half],
                            },
                        }
                    ]
                }
            )
        )
        chunks.append(
            chunk({"tool_calls": [{"index": i, "function": {"arguments": arguments[half:]}}]})
        )
    chunks.append(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": _usage(body, reply)})
    return chunks


def default_reply(body: dict[str, Any]) -> Reply:
    """A tiny agent: search the catalog once, then give the structured answer."""
    messages = body.get("messages", [])
    tools = {t["function"]["name"] for t in body.get("tools", [])}
    user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    text = str(user.get("content") or "")
    turn_start = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=0)
    searched = any(m.get("role") == "tool" for m in messages[turn_start:])
    if "CandidateRanking" in tools:
        # The agent shows the pool in its system section, never in the user's message.
        system = "\n".join(str(m.get("content") or "") for m in messages if m["role"] == "system")
        pool = system.partition("Candidates to rank")[2].split("\n\n")[0]
        count = sum(1 for line in pool.split("\n") if line.split(". ")[0].isdigit())
        return Reply.call("CandidateRanking", order=list(range(count)), reply="As given.")
    if "search_catalog" in tools and not searched:
        return Reply.call("search_catalog", query=text.split("\n")[0][:200] or "music")
    if "ChatAnswer" in tools:
        return Reply.call(
            "ChatAnswer", reply=f"Test model answer to: {text[:60]}", recommendations=[]
        )
    return Reply.text(f"Test model answer to: {text[:60]}")
