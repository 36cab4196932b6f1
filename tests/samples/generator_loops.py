"""Loops over generators, `yield from`, `await` and comprehensions, run several times (the events of a code
object's later runs depend on what the first ones left behind: disabled locations, specialised instructions)."""
import sys

import hunter


def gen():
    yield 1


def delegate():
    value = yield from gen()
    return value


async def coroutine():
    return 1


async def awaiter():
    return await coroutine()


def consumer():
    for _ in gen():
        pass
    for _ in delegate():
        pass
    running = awaiter()
    try:
        running.send(None)
    except StopIteration:
        pass
    list(gen())
    return [item for item in gen()]


def main(kind):
    hunter.trace(hunter.Q(kind=kind, module='__main__', action=hunter.CallPrinter(stream=sys.stdout)))
    consumer()
    for _ in range(4):
        consumer()
    hunter.stop()


if __name__ == '__main__':
    main(sys.argv[1])
