def countdown(n):
    while n > 0:
        yield n
        n -= 1
    return 'liftoff'


def delegate(n):
    result = yield from countdown(n)
    yield result


def accumulator():
    total = 0
    while True:
        value = yield total
        if value is None:
            break
        total += value
    return total


def resilient():
    attempts = 0
    while True:
        try:
            yield attempts
        except ValueError:
            attempts += 1
        except GeneratorExit:
            raise


def closing_reporter(log):
    try:
        yield 'open'
        yield 'still open'
    finally:
        log.append('closed')


def main():
    values = list(delegate(3))
    acc = accumulator()
    next(acc)
    acc.send(5)
    acc.send(7)
    try:
        acc.send(None)
    except StopIteration as stop:
        final = stop.value
    gen = resilient()
    next(gen)
    thrown = gen.throw(ValueError('retry'))
    gen.close()
    log = []
    reporter = closing_reporter(log)
    next(reporter)
    reporter.close()
    squares = sum(x * x for x in range(4))
    return values, final, thrown, log, squares
