"""Synchronous database code that waits for PostgreSQL on the event loop.

Maskline's handlers, rules and stores are synchronous: a transaction is a plain
`with runtime.transaction()` block of statements. Each statement waits for a round trip to
the database, and a synchronous wait blocks the event loop: with PostgreSQL on another host,
every other request of the process would wait with it, and a process would serve its
requests one round trip after another.

So on PostgreSQL every task of a serving process (each request, the worker) runs its steps
inside a greenlet of its own (`install`: a task factory; `_drive`). When the database driver
has to wait (db/libpq.py: for psycopg's own statements and for the hot ones), it hands the
wait to the task (`wait_for`): the greenlet switches back to the task,
which awaits it as any coroutine would, and the loop runs other tasks meanwhile. Once the
socket is ready the greenlet goes on from where it stopped. Nothing above db/ and web/ knows:
the same synchronous code runs unchanged, and outside such a task (the command line, start-up)
waits block as they always did.

Each transaction takes a connection of its own for as long as it lasts, from the process's
pool (db/transactions.py), so that many transactions wait for the database at once.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, TypeVar

from greenlet import getcurrent, greenlet

T = TypeVar("T")

# What a task's greenlet says when it hands control back to the task.
_YIELDED = 0  # the coroutine awaits a future, as coroutines do: the task passes it on
_AWAIT = 1  # synchronous code in it waits for this awaitable: the task awaits it
_DONE = 2  # the coroutine returned this


class _Steps(greenlet):  # type: ignore[misc]
    """The greenlet a task's coroutine takes its steps in."""


def cooperating() -> bool:
    """Whether the caller runs in a task whose waits can go to the event loop."""
    return type(getcurrent()) is _Steps


def wait_for(awaitable: Awaitable[T]) -> T:
    """Wait for `awaitable` on the event loop, from synchronous code inside a task's
    greenlet: other tasks run meanwhile. Only where `cooperating()`."""
    return getcurrent().parent.switch((_AWAIT, awaitable))  # type: ignore[no-any-return]


def readable(fileno: int) -> None:
    """Wait, on the event loop, until `fileno` can be read."""
    wait_for(_ready(fileno, reading=True))


def writable(fileno: int) -> None:
    """Wait, on the event loop, until `fileno` can be written."""
    wait_for(_ready(fileno, reading=False))


async def _ready(fileno: int, reading: bool) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    if reading:
        loop.add_reader(fileno, wake)
    else:
        loop.add_writer(fileno, wake)
    try:
        await ready
    finally:
        if reading:
            loop.remove_reader(fileno)
        else:
            loop.remove_writer(fileno)


@types.coroutine
def _pass_on(future: Any) -> Generator[Any, Any, Any]:
    """Yield what the coroutine yielded to the task running it, and hand back the answer."""
    return (yield future)


def _steps(coro: Coroutine[Any, Any, Any]) -> tuple[int, Any]:
    """The greenlet's body: step the coroutine, handing each future it yields to the task."""
    task = getcurrent().parent
    throwing = False
    value: Any = None
    while True:
        try:
            yielded = coro.throw(value) if throwing else coro.send(value)
        except StopIteration as stop:
            return _DONE, stop.value
        throwing, value = task.switch((_YIELDED, yielded))


async def _drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` as the task would, but each step inside one greenlet, where synchronous
    code can wait on the loop (`wait_for`). The greenlet shares the task's context, so that
    the context variables it sets are the task's."""
    steps = _Steps(_steps)
    steps.gr_context = getcurrent().gr_context
    message = steps.switch(coro)
    while True:
        kind, payload = message
        if kind == _DONE:
            return payload  # type: ignore[no-any-return]
        if kind == _YIELDED:
            try:
                answer = await _pass_on(payload)
            except BaseException as exc:  # the task's cancellation: for the coroutine
                message = steps.switch((True, exc))
            else:
                message = steps.switch((False, answer))
        else:
            try:
                result = await payload
            except BaseException as exc:
                message = steps.throw(exc)
            else:
                message = steps.switch(result)


def install(loop: asyncio.AbstractEventLoop) -> None:
    """From now on, every task made on `loop` runs its coroutine through `_drive`."""

    def factory(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Task[Any]:
        return asyncio.Task(_drive(coro), loop=loop, **kwargs)

    loop.set_task_factory(factory)  # type: ignore[arg-type]
