"""Rasa input channels served by a real Sanic server on a free port, without Rasa's model.

The channel's blueprint is mounted the way Rasa mounts it (``/webhooks/<name>/...``, or
socket.io at its own path), and ``on_new_message`` is the test's: it answers every message
with ``"you said: <text>"`` and keeps the messages, so a test sees which turns started.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage, register
from sanic import Sanic

_numbers = itertools.count(1)


class _TestSanic(Sanic):
    test_mode = True  # startable more than once per process (see bot/hub/app.py)


class _Agent:
    """The part of Rasa's agent a channel server uses: no model, and the test's tracker
    store if it gives one (set by ``ChannelServer``)."""

    tracker_store: Any = None

    def __init__(self, handle_message: Any):
        self.handle_message = handle_message


class ChannelServer:
    """``with ChannelServer(channel) as server:`` serves it at ``server.url``."""

    def __init__(self, channel: InputChannel, tracker_store: Any = None):
        self.channel = channel
        self.tracker_store = tracker_store
        self.messages: list[UserMessage] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._stopped: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    async def _on_new_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        await message.output_channel.send_text_message(
            message.sender_id, f"you said: {message.text}"
        )

    def __enter__(self) -> ChannelServer:
        app = _TestSanic(f"channel_test_{next(_numbers)}")
        app.ctx.agent = _Agent(self._on_new_message)  # what register()'s handler calls
        app.ctx.agent.tracker_store = self.tracker_store
        register([self.channel], app, route="/webhooks/")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(100)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._stopped = asyncio.Event()
            try:
                server: Any = await app.create_server(
                    sock=sock, return_asyncio_server=True, access_log=False
                )
                await server.startup()
                await server.before_start()
                await server.after_start()
            except BaseException as e:
                failure.append(e)
                raise
            finally:
                ready.set()
            await self._stopped.wait()
            await server.before_stop()
            server.close()
            await server.wait_closed()
            await server.after_stop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(main())
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(30) or failure:
            raise RuntimeError(f"the channel server did not start: {failure}")
        return self

    def __exit__(self, *_: Any) -> None:
        self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(10)
