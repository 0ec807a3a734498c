"""Actions run in a bounded thread pool, off the action server's event loop.

rasa_sdk 3.6's ``ActionExecutor.run`` calls an action's ``run`` on Sanic's event loop and
awaits it only if it returned a coroutine (``rasa_sdk/executor.py``). Our actions are
synchronous: each database, back-office (HTTP) and mail call blocked the loop, so one slow
department back office or a locked SQLite file stalled every conversation in the process.

``install(threads)`` makes every ``ActionExecutor`` hand an action's ``run`` to a pool of
``threads`` threads and await its result. An ``async def run`` (rasa_sdk's form validation)
runs there too, on that thread's own event loop: its ``validate_<slot>`` methods are
synchronous and look orders up in the back office, so on the server's loop they would
stall every conversation just the same. No action changes. Calls beyond ``threads`` queue
for a thread, so the databases' connection pools (SQLAlchemy's default: 5 + 10 overflow) are
never outrun. What runs in the threads is thread-safe: engines are, sessions and connections
are per call, and the process-wide caches are (``bot/services.py`` builds the desk under a
lock).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

DEFAULT_THREADS = 8
_INSTALLED_MARK = "_cx_threaded"

_lock = threading.Lock()
_threads = DEFAULT_THREADS
_pool: ThreadPoolExecutor | None = None
_local = threading.local()  # each pool thread's own event loop, for async actions


def pool() -> ThreadPoolExecutor:
    """The process's action threads, started on first use (never at import time)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_threads, thread_name_prefix="cx-action")
        return _pool


def _run_to_the_end(run: Callable[..., Any], *args: Any) -> Any:
    """``run(*args)`` in this pool thread; a coroutine it returns runs on the thread's own
    event loop (nothing our actions await is tied to the server's loop)."""
    result = run(*args)
    if not inspect.isawaitable(result):
        return result
    loop = getattr(_local, "loop", None)
    if loop is None:
        loop = _local.loop = asyncio.new_event_loop()
    return loop.run_until_complete(result)


def threaded(run: Callable[..., Any]) -> Callable[..., Any]:
    """``run`` (an action's ``run``, synchronous or not) as a coroutine function that runs it
    in the pool and awaits its result."""
    if getattr(run, _INSTALLED_MARK, False):
        return run

    @functools.wraps(run)
    async def run_in_thread(dispatcher: Any, tracker: Any, domain: Any) -> Any:
        call = functools.partial(
            contextvars.copy_context().run, _run_to_the_end, run, dispatcher, tracker, domain
        )
        return await asyncio.get_running_loop().run_in_executor(pool(), call)

    setattr(run_in_thread, _INSTALLED_MARK, True)
    return run_in_thread


def install(threads: int = DEFAULT_THREADS) -> None:
    """Register every action's ``run`` as :func:`threaded` (idempotent; call it before
    rasa_sdk's app is built, whose executor registers the actions)."""
    global _threads
    if threads < 1:
        raise ValueError(f"the action server needs at least 1 thread, not {threads}")
    from rasa_sdk.executor import ActionExecutor

    with _lock:
        if _pool is None:
            _threads = threads
    register = ActionExecutor.register_function
    if getattr(register, _INSTALLED_MARK, False):
        return

    @functools.wraps(register)
    def register_threaded(self: ActionExecutor, name: str, f: Callable[..., Any]) -> None:
        register(self, name, f)  # checks f's arguments and logs as rasa_sdk does
        if self.actions.get(name) is f:
            self.actions[name] = threaded(f)

    setattr(register_threaded, _INSTALLED_MARK, True)
    ActionExecutor.register_function = register_threaded
