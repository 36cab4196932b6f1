"""Loops over generators, `yield from`, `await` and comprehensions, run several times (the events of a code
object's later runs depend on what the first ones left behind: disabled locations, specialised instructions)."""
import sys

import hunter


def gen():
    yield 1


def empty():
    return
    yield


def returns(value):
    yield 1
    return value


def loop_over(value):
    # One location, ending generators that return None or a value (which settrace reports, as a StopIteration).
    for _ in returns(value):
        pass


def first(items):
    for item in items:
        return item
    return None


# A loop whose body is long enough for its FOR_ITER to take an EXTENDED_ARG, which then starts the line and is the
# jump target: settrace leaves the FOR_ITER uninstrumented (3.13 reports the end of this loop, 3.12 does not).
LONG_BODY = '\n'.join(f'        total += {n}' for n in range(150))
exec(f'def long_loop(items):\n    total = 0\n    for _ in items:\n{LONG_BODY}\n    return total\n')


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
    first(gen())
    first(empty())
    long_loop(gen())  # noqa: F821 (made by the exec above)
    long_loop(returns('done'))  # noqa: F821
    for value in (None, 'done', None, 0):
        loop_over(value)
    [item for item in returns('comprehension')]
    return [item for item in gen()]


def main(kind):
    hunter.trace(hunter.Q(kind=kind, module='__main__', action=hunter.CallPrinter(stream=sys.stdout)))
    consumer()
    for _ in range(4):
        consumer()
    hunter.stop()


if __name__ == '__main__':
    main(sys.argv[1])
