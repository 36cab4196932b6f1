class ValidationError(Exception):
    pass


def validate(value):
    if value < 0:
        raise ValidationError(f'negative: {value}')
    return value


def parse(text):
    try:
        return int(text)
    except ValueError:
        return None


def reraise(value):
    try:
        validate(value)
    except ValidationError as exc:
        raise RuntimeError('wrapped') from exc


def deep(level):
    if level == 0:
        raise LookupError('bottom')
    return deep(level - 1)


def cleanup(log):
    try:
        validate(-1)
    finally:
        log.append('finally ran')


def main():
    results = [validate(1), parse('12'), parse('x')]
    try:
        reraise(-5)
    except RuntimeError as exc:
        results.append(repr(exc.__cause__))
    try:
        deep(3)
    except LookupError as exc:
        results.append(str(exc))
    log = []
    try:
        cleanup(log)
    except ValidationError:
        results.append(log)
    return results
