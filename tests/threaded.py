"""A test server (any async context manager) on its own event loop in a thread, so a synchronous test can run a
worker or sink subprocess beside it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Coroutine, Generic, TypeVar

T = TypeVar("T")


class InThread(Generic[T]):
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 10) -> Any:
        """Run `coro` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> T:
        self.thread.start()
        return self.call(self.inner.__aenter__())

    def __exit__(self, *exc: object) -> None:
        self.call(self.inner.__aexit__(None, None, None))
        self.call(_cancel_the_rest())  # e.g. a slow reply still asleep
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def _cancel_the_rest() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
