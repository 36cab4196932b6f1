"""Programs with known sleeps for the timing actions' tests (CallPrinter(durations=True), TreePrinter, Profile).
The tests filter on this module, so only these functions' events are matched."""

import asyncio
import threading
import time


def sleeper(seconds):
    time.sleep(seconds)
    return seconds


def pair(seconds):
    sleeper(seconds)
    sleeper(seconds)
    return 'pair'


def resumed(seconds):
    # Each run between a resume and a suspension is one call: the second sleeps.
    yield 1
    time.sleep(seconds)
    yield 2


def consume(seconds):
    return list(resumed(seconds))


async def awaiting(seconds):
    await asyncio.sleep(seconds)
    sleeper(seconds)
    return 'awaited'


def run_coroutine(seconds):
    return asyncio.run(awaiting(seconds))


def unwind(depth, seconds):
    if depth == 0:
        sleeper(seconds)
        raise ValueError('unwound')
    unwind(depth - 1, seconds)


def catch(depth, seconds):
    try:
        unwind(depth, seconds)
    except ValueError:
        return 'caught'


def recurse(depth, seconds):
    if depth == 0:
        return sleeper(seconds)
    return recurse(depth - 1, seconds)


def in_threads(count, seconds):
    threads = [threading.Thread(target=pair, args=(seconds,)) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def thread_then_here(seconds):
    worker = threading.Thread(target=sleeper, args=(seconds,), name='worker')
    worker.start()
    worker.join()
    pair(seconds)


def through_c(count):
    # Called from C (map): 3.12+ puts an entry frame between this frame and each sleeper's.
    return list(map(sleeper, [0] * count))


def many(count):
    for _ in range(count):
        sleeper(0)
