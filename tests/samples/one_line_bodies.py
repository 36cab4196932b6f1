"""Code whose body is on its first line (one-line functions, lambdas, generator expressions), called several times,
traced for its line events only: on 3.13, a call event switched off took those lines' events with it."""
import sys

import hunter


def one_line(x): return x + 1  # noqa: E704


double = lambda x: x * 2  # noqa: E731


def total():
    return sum(value for value in (1, 2))


def one_line_generator(): yield 1  # noqa: E704


def main():
    for _ in range(3):
        one_line(1)
        double(1)
        total()
        list(one_line_generator())


if __name__ == '__main__':
    kinds = sys.argv[1].split(',')
    hunter.trace(
        hunter.Q(module='__main__', kind_in=kinds) & ~hunter.Q(function='<module>'),
        action=hunter.CallPrinter(stream=sys.stdout),
    )
    main()
    hunter.stop()
