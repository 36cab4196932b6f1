def make_counter(start):
    count = start

    def increment(step=1):
        nonlocal count
        count += step
        return count

    return increment


def factorial(n):
    return 1 if n <= 1 else n * factorial(n - 1)


def fibonacci(n, memo=None):
    memo = {} if memo is None else memo
    if n in memo:
        return memo[n]
    value = n if n < 2 else fibonacci(n - 1, memo) + fibonacci(n - 2, memo)
    memo[n] = value
    return value


def main():
    counter = make_counter(10)
    counter()
    counter(5)
    double = lambda x: x * 2  # noqa: E731
    doubled = list(map(double, [1, 2, 3]))
    squares = [n * n for n in range(5) if n % 2]
    table = {n: double(n) for n in range(3)}
    evens = {n for n in range(6) if n % 2 == 0}
    ordered = sorted(['pear', 'fig', 'apple'], key=lambda word: (len(word), word))
    return counter(0), factorial(5), fibonacci(10), doubled, squares, table, sorted(evens), ordered
