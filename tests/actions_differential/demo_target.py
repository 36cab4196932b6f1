"""Code traced by the differential action tests. Line numbers show up in the compared output: edit with care."""
import functools
import threading


def decorate(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return function(*args, **kwargs)

    return wrapper


def identity(function):
    return function


@identity
@decorate
@identity
def add(a, b=2, *args, c, d=4, **kwargs):
    x = (a +
         b)
    return x + c + len(args) + len(kwargs)


class Unrepresentable:
    def __repr__(self):
        raise RuntimeError('no repr for you')


class Value:
    def __init__(self, value):
        self.value = value

    def double(self):
        return self.value * 2

    def __repr__(self):
        return f'Value({self.value!r})\nsecond line'


def boom(n):
    if n:
        return boom(n - 1)
    raise ValueError(f'bad {n}')


def swallow():
    try:
        boom(1)
    except ValueError:
        pass
    return 'swallowed'


def swallow_deep():
    try:
        helper = Value(3)
        helper.double()
        boom(0)
    except ValueError as exc:
        message = str(exc)
    for i in range(8):
        message += str(i)
    return message


def generator(limit):
    for i in range(limit):
        yield {'i': i, 'braces': '{}{0}{x}'}


def deep_fn(depth):
    if depth:
        return deep_fn(depth - 1)
    return 'bottom'


def worker(results, name):
    results.append(add(1, 2, c=name))


def run_threads():
    results = []
    for name in ('first', 'second'):
        thread = threading.Thread(target=worker, args=(results, len(name)), name=f'Worker-{name}')
        # One line: the main thread's next line event must not race with the worker's events.
        thread.start(); thread.join()  # noqa: E702
    return results


def main():
    total = add(1, 5, 6, c=7, z=8)
    value = Value(total)
    value.double()
    swallow()
    try:
        boom(2)
    except ValueError:
        pass
    items = list(generator(2))
    long_list = list(range(400))
    odd = Unrepresentable()
    squares = [n * n for n in items[0].values() if isinstance(n, int)]
    func = lambda q: q + 1  # noqa: E731
    func(len(long_list) + len(squares))
    deep_fn(4)
    text = 'unicode \u2603 and {braces}'
    return text, odd


def shadowing(len=3, Value='local'):
    print = 'also local'
    del Value
    return len, print
