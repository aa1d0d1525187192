"""Runs a coroutine to its end from synchronous test code.

Playwright's synchronous API keeps an event loop running in the main thread once the browser
has started, so asyncio.run() there fails; a worker thread has a loop of its own.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor


def run(coroutine):
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
