#!/usr/bin/env python3
"""
Checks the documentation against the installed hunter, so the pages cannot drift from what it does:

- every recipe of the cookbook (a ``<!-- run -->`` Python block) is run, and what it prints (stdout and stderr) must
  be what the page's next ``<!-- output -->`` block shows, on each backend (settrace, and sys.monitoring on 3.12+);
- every field of ``ALLOWED_KEYS`` and every operator of ``ALLOWED_OPERATORS`` has its row in the query-language page.

Each recipe runs in a fresh interpreter in a temporary directory, as a file named ``example.py``; the page's
``<!-- file: NAME.py -->`` blocks are written beside it and preloaded as modules of that name, so that file names
print as ``example.py`` and ``NAME.py`` wherever the check runs. Memory addresses (``0x7f...``) are not compared.

    python docs/check_examples.py [--python PYTHON] [--update]

``--update`` writes the real outputs into the pages instead of comparing (then review the diff).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
RECIPE_PAGES = ('cookbook.md',)
BLOCK = re.compile(r'<!-- (?P<marker>run|output|file: (?P<name>\w+)\.py) -->\n+```(?P<language>\w+)\n(?P<body>.*?)```\n', re.S)
ADDRESS = re.compile(r'0x[0-9a-f]+')
# Starts the recipe the way `python example.py` would, except that file names stay relative (and so the same on every
# machine): this frame renames its module, so that filters on '__main__' do not see it.
BOOTSTRAP = """\
__name__ = 'docs_bootstrap'
import runpy, sys, types
for name in sys.argv[1:]:
    module = types.ModuleType(name)
    module.__file__ = name + '.py'
    with open(module.__file__) as file:
        exec(compile(file.read(), module.__file__, 'exec'), module.__dict__)
    sys.modules[name] = module
runpy.run_path('example.py', run_name='__main__')
"""


def recipes(page_text):
    """``(support files {name: source}, [(code, output match or None)])`` of one page."""
    files, runs = {}, []
    for match in BLOCK.finditer(page_text):
        if match['name']:
            files[match['name']] = match['body']
        elif match['marker'] == 'run':
            runs.append([match['body'], None])
        elif runs and runs[-1][1] is None:
            runs[-1][1] = match
        else:
            raise SystemExit(f'an <!-- output --> block without a <!-- run --> block before it: {match.group(0)[:80]!r}')
    for code, output in runs:
        if output is None:
            raise SystemExit(f'a <!-- run --> block has no <!-- output --> block after it: {code[:80]!r}')
    return files, runs


def run(python, files, code, backend):
    with tempfile.TemporaryDirectory(prefix='hunter-docs-') as directory:
        for name, source in files.items():
            Path(directory, f'{name}.py').write_text(source)
        Path(directory, 'example.py').write_text(code)
        env = {key: value for key, value in os.environ.items() if not key.startswith(('PYTHONHUNTER', 'PUREPYTHONHUNTER'))}
        for name in ('FORCE_COLOR', 'NO_COLOR', 'PYTHONPATH', 'PYTHONSTARTUP'):
            env.pop(name, None)
        env.update(PYTHONUNBUFFERED='1', PYTHONDONTWRITEBYTECODE='1', PYTHONHASHSEED='0')
        if backend:
            env['PYTHONHUNTERBACKEND'] = backend
        completed = subprocess.run(
            [python, '-c', BOOTSTRAP, *files],
            cwd=directory,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
        )
        return completed.stdout


def normalized(text):
    return '\n'.join(ADDRESS.sub('0x...', line.rstrip()) for line in text.strip('\n').splitlines())


def backends(python):
    monitoring = subprocess.run([python, '-c', 'import sys; print(sys.version_info >= (3, 12))'], capture_output=True, text=True)
    return ('settrace', 'monitoring') if monitoring.stdout.strip() == 'True' else ('settrace',)


def check_query_page(python):
    """Names of fields and operators that have no row of their own in the query-language page."""
    listed = subprocess.run(
        [python, '-c', 'import hunter.predicates as p; print(*p.ALLOWED_KEYS); print(*p.ALLOWED_OPERATORS)'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    fields, operators = listed[0].split(), listed[1].split()
    page = (DOCS / 'query-language.md').read_text()
    rows = set(re.findall(r'^\| `(\w+)` \|', page, re.M))
    aliases = {alias for cells in re.findall(r'^\| `\w+` \| ([^|]*) \|', page, re.M) for alias in re.findall(r'`(\w+)`', cells)}
    return [f'field {name}' for name in fields if name not in rows] + [
        f'operator {name}' for name in operators if name not in rows and name not in aliases
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--python', default=sys.executable, help='the interpreter with hunter installed (default: this one)')
    parser.add_argument('--update', action='store_true', help="write the real outputs into the pages (the first backend's)")
    args = parser.parse_args()

    failures = [f'query-language.md has no row for {name}' for name in check_query_page(args.python)]
    count = 0
    for page_name in RECIPE_PAGES:
        page = DOCS / page_name
        text = page.read_text()
        files, runs = recipes(text)
        replacements = []
        for number, (code, output) in enumerate(runs, 1):
            for backend in backends(args.python):
                actual = run(args.python, files, code, backend)
                count += 1
                if args.update:
                    replacements.append((output.start('body'), output.end('body'), actual.strip('\n') + '\n'))
                    break
                if normalized(actual) != normalized(output['body']):
                    failures.append(
                        f'{page_name}, recipe {number} ({code.splitlines()[0]!r}...), {backend} backend, printed:\n'
                        f'{actual}\n--- but the page shows:\n{output["body"]}'
                    )
        for start, end, body in reversed(replacements):
            text = text[:start] + body + text[end:]
        if args.update:
            page.write_text(text)
    for failure in failures:
        print(f'FAIL {failure}\n', file=sys.stderr)
    print(f'{count} recipe runs, {len(failures)} failures')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
