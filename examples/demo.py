"""Demo for README.md: PYTHONHUNTER="module='__main__'" python examples/demo.py"""


def parse(text):
    try:
        return int(text)
    except ValueError:
        return 0


def main():
    return parse("1") + parse("x")


if __name__ == "__main__":
    print(main())
