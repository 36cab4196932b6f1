"""A `throw()` into a generator delegating with `yield from`: on 3.9 the inner generator runs first, with the
suspended outer generator as its caller, whose own caller is not linked."""
import sys

import hunter


def inner():
    try:
        yield 1
    finally:
        pass


def outer():
    yield from inner()


def main():
    delegating = outer()
    next(delegating)
    try:
        delegating.throw(KeyError('k'))
    except KeyError:
        pass
    return 1


if __name__ == '__main__':
    hunter.trace(function_in=['main', 'inner', 'outer'], action=hunter.CallPrinter(stream=sys.stdout))
    main()
    hunter.stop()
