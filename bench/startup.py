#!/usr/bin/env python3
"""Start-up cost: `python -c pass` and `python -c "import hunter"`, each in a fresh process, in a plain venv, in a
venv with our package installed (its `hunter.pth` runs at every start-up) and in a venv with hunter 3.9.0.

Every round runs each (venv, command) cell once, in a newly shuffled order; a cell shows the best and the median
of its rounds, in milliseconds of wall time (process start to exit). The venvs come from implementations.py, as
for run.py: a plain one and hunter 3.9.0 (binary wheel) are made in bench/.cache on first use, ours is a release
wheel built into bench/.cache unless --ours-python names an interpreter that has it (a `maturin develop` build is
a debug build with an editable install: fine for a smoke run, not for figures).

    python bench/startup.py --versions 3.12 --runs 40
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import implementations  # noqa: E402

COMMANDS = {'`python -c pass`': 'pass', '`python -c "import hunter"`': 'import hunter'}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--versions', default='3.12', help='comma-separated minor versions (default: 3.12)')
    parser.add_argument('--runs', type=int, default=30, help='rounds, i.e. processes per cell (default: 30)')
    parser.add_argument('--ours-python', help='interpreter with our package installed (one version only)')
    parser.add_argument(
        '--reference-venvs',
        default=os.environ.get('HUNTER_REFERENCE_VENVS'),
        help='venvs with hunter 3.9.0 as DIR/3.X (default: $HUNTER_REFERENCE_VENVS, else made in bench/.cache)',
    )
    return parser.parse_args(argv)


def prepare(version, args):
    """[(row label, python, commands)] for one minor version; rows that cannot be prepared are reported and left out."""
    base_python = implementations.find_python(version)
    if base_python is None:
        print(f'{version}: no interpreter found', file=sys.stderr)
        return []
    plain = implementations.ensure_venv(base_python, implementations.CACHE_DIR / 'venvs' / ('plain-' + version))
    rows = [('plain venv', plain, ['`python -c pass`'])]
    try:
        ours = args.ours_python or implementations.build_ours(version, base_python)
        rows.append(('hunter-rs (ours)', ours, list(COMMANDS)))
    except (OSError, implementations.SetupError) as exc:
        print(f'{version}: ours unavailable: {exc}', file=sys.stderr)
    reference = implementations.prepare_hunter(version, base_python, args.reference_venvs)
    if reference.available:
        rows.append(('hunter 3.9.0', reference.python, list(COMMANDS)))
    else:
        print(f'{version}: hunter 3.9.0 unavailable: {reference.detail}', file=sys.stderr)
    return rows


def wall_time(python, code, env):
    start = time.perf_counter()
    subprocess.run([python, '-c', code], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(rows, runs):
    """{(row label, command label): [seconds, ...]}"""
    env = implementations.clean_environment()
    cells = [(label, python, command) for label, python, commands in rows for command in commands]
    for _, python, command in cells:  # warm the page cache and the bytecode caches
        wall_time(python, COMMANDS[command], env)
    samples = {(label, command): [] for label, _, command in cells}
    rng = random.Random(0)
    for _ in range(runs):
        rng.shuffle(cells)
        for label, python, command in cells:
            samples[label, command].append(wall_time(python, COMMANDS[command], env))
    return samples


def table(version, rows, samples, runs):
    lines = [
        f'Python {version}, best / median of {runs} fresh processes, ms:',
        '',
        '| venv | ' + ' | '.join(COMMANDS) + ' | `import hunter` alone (median difference) |',
        '|---|' + '---|' * (len(COMMANDS) + 1),
    ]
    for label, _, commands in rows:
        cells = []
        for command in COMMANDS:
            times = samples.get((label, command))
            cells.append(f'{min(times) * 1e3:.1f} / {statistics.median(times) * 1e3:.1f}' if times else '')
        if len(commands) == len(COMMANDS):
            difference = statistics.median(samples[label, commands[1]]) - statistics.median(samples[label, commands[0]])
            cells.append(f'{difference * 1e3:.1f}')
        else:
            cells.append('')
        lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    versions = args.versions.split(',')
    if args.ours_python and len(versions) > 1:
        sys.exit('--ours-python serves one version only')
    for version in versions:
        rows = prepare(version, args)
        if rows:
            print(table(version, rows, measure(rows, args.runs), args.runs), end='\n\n')


if __name__ == '__main__':
    main()
