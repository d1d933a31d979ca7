"""Deadlines for slow clients: request heads (an uvicorn protocol) and bodies (ASGI).

uvicorn closes idle keep-alive connections and caps connections (``limit_concurrency``), but
waits forever for a request head that never ends or a body that trickles in: one client
could hold every connection slot (slowloris). :class:`HeadTimeoutH11Protocol` closes a
connection whose head is not complete ``server.header_timeout_seconds`` after the connection
opened or the previous answer went out; :class:`BodyDeadline` answers 408 (and closes) when
the body is not complete ``server.body_timeout_seconds`` after its head.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import h11
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol


class HeadTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus a deadline for each request head."""

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE:  # no complete request head since the deadline
            self.transport.close()


class BodyTimeout(Exception):
    """The request body did not arrive in time."""


class BodyDeadline:
    """ASGI middleware: the whole body must arrive within ``seconds`` of the head, else 408."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = anyio.current_time() + self.seconds
        body_done = False
        started = False

        async def receive_in_time() -> Message:
            nonlocal body_done
            if body_done:  # later reads only wait for a disconnect: no deadline
                return await receive()
            with anyio.move_on_after(deadline - anyio.current_time()) as scope_:
                message = await receive()
            if scope_.cancelled_caught:
                raise BodyTimeout
            body_done = message["type"] != "http.request" or not message.get("more_body")
            return message

        async def watch_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_in_time, watch_send)
        except BodyTimeout:
            if started:
                raise
            reason = f"the request body did not arrive within {self.seconds:g} s"
            answer = JSONResponse({"error": reason}, 408, headers={"Connection": "close"})
            await answer(scope, receive, send)
