import contextlib


class Recorder:
    def __init__(self):
        self.events = []

    def __enter__(self):
        self.events.append('enter')
        return self

    def __exit__(self, exc_type, exc, tb):
        self.events.append(exc_type.__name__ if exc_type else 'clean')
        return exc_type is KeyError


@contextlib.contextmanager
def section(log, name):
    log.append(f'begin {name}')
    try:
        yield name
    finally:
        log.append(f'end {name}')


def combine(first,
            second,
            *,
            third=3):
    total = (first
             + second
             + third)
    return total


def main():
    recorder = Recorder()
    with recorder:
        value = combine(1,
                        2,
                        third=4)
    with recorder:
        raise KeyError('suppressed')
    log = []
    with section(log, 'outer') as outer, section(log, 'inner'):
        log.append(outer)
    data = {
        'value': value,
        'events': recorder.events,
    }
    index = 0
    while index < 3:
        index += 1
    else:
        log.append(index)
    return data, log
