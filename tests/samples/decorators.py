import functools


def logged(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        result = func(*args, **kwargs)
        return result

    return wrapper


def repeat(times):
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return [func(*args, **kwargs) for _ in range(times)]

        return wrapper

    return decorate


def tagged(cls):
    cls.tag = cls.__name__.lower()
    return cls


@logged
@repeat(2)
def greet(name, punctuation='!'):
    return f'hello {name}{punctuation}'


@logged
def add(a, b, *rest, scale=1, **extra):
    return (a + b + sum(rest)) * scale + len(extra)


@tagged
class Widget:
    @logged
    def area(self, width,
             height):
        return width * height


def main():
    greeting = greet('world', punctuation='?')
    total = add(1, 2, 3, scale=2, unused=True)
    area = Widget().area(3,
                         4)
    return greeting, total, area, Widget.tag
