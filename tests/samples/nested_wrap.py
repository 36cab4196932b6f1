"""Two functions wrapped by hunter.wrap(local=True), one calling the other (issue: the outer call's events after
the inner wrapped call returned were lost)."""
import sys

import hunter


@hunter.wrap(local=True, action=hunter.CallPrinter(stream=sys.stdout))
def outer(n):
    x = inner(n)
    y = x + 1
    return y


@hunter.wrap(local=True, action=hunter.CallPrinter(stream=sys.stdout))
def inner(n):
    return n * 2


if __name__ == '__main__':
    print(outer(3))
