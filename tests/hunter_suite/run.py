#!/usr/bin/env python3
"""Runs hunter 3.9.0's own test suite against the hunter-rs installed in a venv, and judges the outcome.

The suite comes from hunter's sdist on PyPI, downloaded at test time into .cache/hunter-suite/ (never copied into
the repository) and checked against its known sha256. For each mode the sdist is extracted afresh, its src/ is
removed (so only the installed hunter-rs can be imported), and pytest runs its tests/ with xdist, so that a test
that kills its worker is reported as crashed while the rest of the suite carries on.

Every test ends as passed, failed, crashed, excluded (a failure listed in exclusions.txt), skipped (hunter's own
skips and expected failures, and its gdb tests where gdb cannot inject code into a process: see tests/gdb_probe.py)
or not run (the run stopped early). The exit status is 1 when any test crashed or did not run, when a test failed
that exclusions.txt does not list, and when an exclusion no longer fails ("stale exclusion": the file must stay
true); 0 otherwise.

    python tests/hunter_suite/run.py --python .venv-3.12/bin/python                  # pure, both backends on 3.12+
    python tests/hunter_suite/run.py --python .venv-3.12/bin/python --mode nopure    # without PUREPYTHONHUNTER

The venv must hold a regular (wheel) install of hunter-rs: `maturin develop` does not install hunter.pth at the
site-packages root, which hunter's PYTHONHUNTER tests need. run.py installs the suite's own test dependencies.
Per mode it writes the pytest log and a JSON file with every test's outcome beside the sdist in the cache.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gdb_probe import gdb_unusable_reason  # noqa: E402 (tests/, put on the path above)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SDIST_NAME = 'hunter-3.9.0'
SDIST_FILE = SDIST_NAME + '.tar.gz'
SDIST_SHA256 = 'd953a4a8087bb8a6746f06bd6b4dd7c61bc6c60a57012139618fea7aeca2ffe2'
# tox.ini of hunter 3.9.0 (its testenv deps, minus the coverage and build tools), plus pytest-timeout for --timeout.
SUITE_DEPS = ['pytest', 'pytest-xdist', 'pytest-benchmark', 'pytest-timeout', 'process-tests', 'manhole', 'aspectlib',
              'six', 'py', 'tzdata', 'ipdb']
OUTCOMES = ('passed', 'failed', 'crashed', 'excluded', 'known-bug', 'skipped', 'not-run')


def log(*args):
    print(*args, flush=True)


# -- the exclusion file ------------------------------------------------------------------------------------------

class Exclusion:
    """One entry of exclusions.txt: a test id pattern (``*`` is the only wildcard), why it fails, and where."""

    def __init__(self, pattern, section, line):
        self.pattern = pattern
        self.section = section  # 'deliberate' or 'known-bugs'
        self.line = line
        self.fields = {}
        self.regex = re.compile('.*'.join(re.escape(part) for part in pattern.split('*')) + r'\Z')

    @property
    def reason(self):
        return self.fields.get('reason', '')

    def applies_to(self, mode):
        return all(_condition_holds(term, mode, self.line) for term in self.fields.get('when', '').split())

    def matches(self, test_id):
        return self.regex.match(test_id) is not None


def _condition_holds(term, mode, line):
    match = re.fullmatch(r'(python|pure|backend)(>=|<=|=|<|>)(\S+)', term)
    if not match:
        raise SystemExit(f'exclusions.txt:{line}: cannot read condition {term!r} (python=3.X, pure=yes|no, backend=...)')
    key, operator, value = match.groups()
    if key == 'python':
        actual, wanted = mode.python_version, tuple(int(part) for part in value.split('.'))
        return {'=': actual == wanted, '<': actual < wanted, '>': actual > wanted,
                '<=': actual <= wanted, '>=': actual >= wanted}[operator]
    actual = {'pure': 'yes' if mode.pure else 'no', 'backend': mode.backend}[key]
    if operator != '=':
        raise SystemExit(f'exclusions.txt:{line}: {key} takes = only')
    return actual == value


def read_exclusions(path):
    """Sections ``[deliberate]`` and ``[known-bugs]``; an entry is a test id pattern at the start of a line,
    followed by indented ``key: value`` lines (reason, difference, when), which further indented lines continue.
    ``#`` starts a comment line."""
    entries, section, entry, key = [], None, None, None
    for number, raw in enumerate(Path(path).read_text(encoding='utf-8').splitlines(), 1):
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        if re.fullmatch(r'\[(deliberate|known-bugs)\]', line):
            section = line[1:-1]
        elif not line[0].isspace():
            if section is None:
                raise SystemExit(f'{path}:{number}: an entry before any [section]')
            entry, key = Exclusion(line.strip(), section, number), None
            entries.append(entry)
        else:
            field = re.match(r'(reason|difference|when):\s*', line.strip())
            if entry is None or (field is None and key is None):
                raise SystemExit(f'{path}:{number}: expected "reason: ...", "difference: N" or "when: ..." under an entry')
            if field is not None:
                key, value = field.group(1), line.strip()[field.end():]
            else:  # a continuation line of the field above
                value = line.strip()
            entry.fields[key] = (entry.fields.get(key, '') + ' ' + value).strip()
    for entry in entries:
        if not entry.reason:
            raise SystemExit(f'{path}:{entry.line}: {entry.pattern} has no reason')
        if entry.section == 'deliberate' and not entry.fields.get('difference', '').isdigit():
            raise SystemExit(f'{path}:{entry.line}: a deliberate exclusion names its README difference number')
    return entries


# -- the sdist and the environment -------------------------------------------------------------------------------

def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(1 << 16), b''):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_sdist(python, cache):
    """The sdist in the cache, downloaded with pip when missing; its hash is checked either way."""
    sdist = cache / SDIST_FILE
    if not sdist.exists():
        log(f'downloading {SDIST_FILE} from PyPI into {cache}')
        subprocess.run([python, '-m', 'pip', 'download', '-q', '--disable-pip-version-check', '--no-deps',
                        '--no-binary', ':all:', '--dest', str(cache), SDIST_NAME.replace('-', '==')], check=True)
    actual = sha256_of(sdist)
    if actual != SDIST_SHA256:
        raise SystemExit(f'{sdist}: sha256 {actual}, expected {SDIST_SHA256}; delete it to download it again')
    return sdist


def extract_suite(sdist, into):
    """Extracts the sdist under ``into`` and removes its src/: returns the sdist root (the cwd of the run)."""
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, 'data_filter'):
            archive.extractall(into, filter='data')
        else:  # Pythons without the extraction filters; the archive's hash is pinned above
            archive.extractall(into)
    root = Path(into) / SDIST_NAME
    shutil.rmtree(root / 'src')
    return root


def python_facts(python):
    code = ('import json, sys, sysconfig; print(json.dumps([sys.version_info[:3], sysconfig.get_paths()["purelib"], '
            'sysconfig.get_paths()["scripts"]]))')
    version, purelib, scripts = json.loads(subprocess.check_output([python, '-c', code], text=True))
    return tuple(version), Path(purelib), Path(scripts)


def check_installation(python, purelib):
    """hunter-rs must be importable from the venv and installed with its hunter.pth, as a wheel installs it."""
    probe = subprocess.run([python, '-c', 'import hunter._hunter, hunter; print(hunter.__file__)'],
                           capture_output=True, text=True, cwd=tempfile.gettempdir())
    if probe.returncode != 0:
        raise SystemExit(f'{python} cannot import hunter-rs:\n{probe.stderr}')
    if not (purelib / 'hunter.pth').exists():
        raise SystemExit(f'{purelib}/hunter.pth is missing (an editable `maturin develop` install?): install a wheel, e.g.\n'
                         f'  maturin build --profile dev -o dist -i {python} && {python} -m pip install '
                         '--force-reinstall --no-deps dist/hunter_rs-*.whl')


def install_suite_deps(python):
    log(f'installing the suite test dependencies into {python}')
    subprocess.run([python, '-m', 'pip', 'install', '-q', '--disable-pip-version-check', *SUITE_DEPS], check=True)


# -- one run -----------------------------------------------------------------------------------------------------

class Mode:
    def __init__(self, name, python_version):
        pure, _, backend = name.partition(':')
        if pure not in ('pure', 'nopure') or backend not in ('', 'settrace', 'monitoring'):
            raise SystemExit(f'unknown mode {name!r}: pure, nopure, pure:settrace, pure:monitoring, nopure:...')
        if backend == 'monitoring' and python_version < (3, 12):
            raise SystemExit(f'mode {name}: the monitoring backend needs Python 3.12+')
        self.pure = pure == 'pure'
        self.python_version = python_version
        self.backend_env = backend or None
        # The backend the tracer ends up with when none is asked for: monitoring on 3.12+, else settrace.
        self.backend = backend or ('monitoring' if python_version >= (3, 12) else 'settrace')
        self.label = f'{pure}/{self.backend}' + ('' if backend or python_version < (3, 12) else ' (default)')
        self.slug = f'{pure}-{self.backend}'


def suite_env(mode, scripts):
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(('PYTHONHUNTER', 'PUREPYTHONHUNTER'))}
    env['PYTHONHUNTERCONFIG'] = ''
    env['PYTHONPATH'] = os.pathsep.join(['tests', str(HERE)])
    env['PYTHONUNBUFFERED'] = 'yes'
    env['PATH'] = os.pathsep.join([str(scripts), env.get('PATH', '')])  # hunter-trace of the venv under test
    if mode.pure:
        env['PUREPYTHONHUNTER'] = 'yes'
    if mode.backend_env:
        env['PYTHONHUNTERBACKEND'] = mode.backend_env
    return env


def run_pytest(python, mode, sdist, work, scripts, args):
    """Runs the suite once; returns (records, wall seconds, pytest log path)."""
    run_dir = Path(tempfile.mkdtemp(prefix=f'{mode.slug}-', dir=work))
    suite_root = extract_suite(sdist, run_dir)
    report_path = work / f'reports-{mode.slug}.jsonl'  # every report, with the worker that ran the test
    if report_path.exists():
        report_path.unlink()
    log_path = work / f'pytest-{mode.slug}.log'
    # The configuration and rootdir are pinned: pytest would otherwise look above the sdist root for them (and find
    # this repository's pyproject.toml) as soon as an argument is a path outside tests/.
    command = [python, '-m', 'pytest', '-c', 'pytest.ini', '--rootdir', '.', '-p', 'no:cacheprovider',
               '-p', 'hunter_suite_report', f'--hunter-suite-report={report_path}', f'--timeout={args.timeout}',
               '-q', '-rfE']
    if args.workers:
        # Each crash costs a worker restart; --max-crashes bounds how long a badly crashing build can run.
        command += ['-n', str(args.workers), '--max-worker-restart', str(args.max_crashes or 1_000_000)]
        # What pytest-benchmark does under xdist anyway; said explicitly, because its warning about it is an error
        # under the suite's filterwarnings=error in some of its versions (5.2 on Python 3.9).
        command += ['--benchmark-disable']
    if args.gdb_reason:
        command += ['--hunter-suite-skip-gdb', args.gdb_reason]
    command += args.pytest_args or ['tests']
    started = time.monotonic()
    with open(log_path, 'w', encoding='utf-8') as output:
        subprocess.run(command, cwd=suite_root, env=suite_env(mode, scripts), stdout=output, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    records = [json.loads(line) for line in report_path.read_text(encoding='utf-8').splitlines()] \
        if report_path.exists() else []
    shutil.rmtree(run_dir, ignore_errors=True)
    return records, elapsed, log_path


def outcomes_of(records):
    """Test id -> (outcome, reason) from the plugin's records; plus the pytest exit status (None if it never ended)."""
    reports, exitstatus = defaultdict(list), None
    for record in records:
        if record['type'] == 'collected':
            for test_id in record['ids']:
                reports.setdefault(test_id, [])
        elif record['type'] in ('test', 'collect'):
            reports[record['nodeid']].append(record)
        elif record['type'] == 'finish':
            exitstatus = record['exitstatus']
    outcomes = {}
    for test_id, test_reports in reports.items():
        crashed = [r for r in test_reports if r.get('when') == '???']
        failed = [r for r in test_reports if r['outcome'] == 'failed']
        skipped = [r for r in test_reports if r['outcome'] == 'skipped']
        if crashed:
            outcomes[test_id] = ('crashed', crashed[0]['reason'])
        elif failed:
            report = failed[0]
            where = '' if report.get('when') in ('call', None) else f"in {report['when']}: "
            outcomes[test_id] = ('failed', where + report['reason'])
        elif skipped:
            report = skipped[0]
            outcomes[test_id] = ('skipped', ('xfail: ' if report['xfail'] else '') + report['reason'])
        elif any(r.get('when') == 'call' and r['outcome'] == 'passed' for r in test_reports):
            outcomes[test_id] = ('passed', '')
        else:
            outcomes[test_id] = ('not-run', 'no result: the run ended before this test')
    return outcomes, exitstatus


def judge(outcomes, exclusions, mode):
    """Applies the exclusions: returns (final outcome per test, stale exclusion messages)."""
    applicable = [entry for entry in exclusions if entry.applies_to(mode)]
    final, matched_by = {}, defaultdict(list)
    for test_id, (outcome, reason) in outcomes.items():
        entry = next((entry for entry in applicable if entry.matches(test_id)), None)
        if entry is not None:
            matched_by[entry].append(outcome)
            if outcome == 'failed':
                outcome = 'excluded' if entry.section == 'deliberate' else 'known-bug'
                reason = entry.reason
        final[test_id] = (outcome, reason)
    stale = []
    for entry in applicable:
        seen = Counter(matched_by[entry])
        if not seen:
            stale.append(f'{entry.pattern} (exclusions.txt:{entry.line}) matches no test')
        elif seen['passed'] and not (seen['failed'] or seen['crashed']):
            stale.append(f"{entry.pattern} (exclusions.txt:{entry.line}) passes now ({seen['passed']} tests): "
                         'remove it from exclusions.txt')
    return final, stale


def family(test_id):
    """A parametrized test's id without its parameters, to group a family in the listing."""
    return test_id.split('[', 1)[0] + ('[...]' if '[' in test_id else '')


def print_problems(final, stale):
    by_outcome = defaultdict(lambda: defaultdict(list))
    for test_id, (outcome, reason) in sorted(final.items()):
        if outcome in ('failed', 'crashed', 'not-run'):
            by_outcome[outcome][family(test_id)].append((test_id, reason))
    for outcome in ('crashed', 'failed', 'not-run'):
        for name, members in by_outcome[outcome].items():
            test_id, reason = members[0]
            if len(members) == 1:
                log(f'  {outcome.upper():8} {test_id} - {reason}')
            else:
                log(f'  {outcome.upper():8} {name} x {len(members)}, e.g. {test_id} - {reason}')
    for message in stale:
        log(f'  STALE EXCLUSION {message}')


def run_mode(python, version, mode, sdist, work, scripts, exclusions, args):
    log(f'\n-- hunter 3.9.0 suite, Python {".".join(map(str, version))}, {mode.label} --')
    records, elapsed, log_path = run_pytest(python, mode, sdist, work, scripts, args)
    outcomes, exitstatus = outcomes_of(records)
    final, stale = judge(outcomes, exclusions, mode)
    if not final:  # a run that broke down says nothing about the exclusions
        stale = []
    elif args.pytest_args:  # a selection: entries for tests outside it are not stale
        stale = [message for message in stale if not message.endswith('matches no test')]
    counts = Counter(outcome for outcome, _ in final.values())
    problems = []
    if exitstatus not in (0, 1):
        problems.append(f'pytest ended with status {exitstatus}' if exitstatus is not None
                        else 'pytest did not finish (no session end recorded)')
    if not final:
        problems.append('no test results')
    print_problems(final, stale)
    for problem in problems:
        log(f'  RUN      {problem}')
    if counts['not-run'] and args.max_crashes and counts['crashed'] >= args.max_crashes:
        log(f'  RUN      stopped after {counts["crashed"]} crashes (--max-crashes); {counts["not-run"]} tests not run')
    failed = bool(problems or stale or counts['failed'] or counts['crashed'] or counts['not-run'])
    detail_path = work / f'outcomes-{mode.slug}.json'
    detail_path.write_text(json.dumps({test_id: list(value) for test_id, value in sorted(final.items())}, indent=1))
    log(f'  pytest log: {log_path}\n  outcome per test: {detail_path}')
    return {'mode': mode.label, 'counts': counts, 'seconds': elapsed, 'failed': failed, 'stale': len(stale),
            'problems': problems}


def print_table(version, rows):
    log('\nhunter 3.9.0 suite against hunter-rs:')
    header = ['Python', 'mode'] + list(OUTCOMES) + ['time', 'result']
    table = [[f'{version[0]}.{version[1]}', row['mode']] + [str(row['counts'][name]) for name in OUTCOMES]
             + [f"{row['seconds']:.0f} s", 'FAIL' if row['failed'] else 'PASS'] for row in rows]
    widths = [max(len(line[column]) for line in [header] + table) for column in range(len(header))]
    for line in [header] + table:
        log('  '.join(cell.ljust(width) if column < 2 else cell.rjust(width)
                      for column, (cell, width) in enumerate(zip(line, widths))))


def summary_line(version, row):
    counts = row['counts']
    text = ', '.join(f'{counts[name]} {name}' for name in OUTCOMES if counts[name] or name in ('passed', 'crashed'))
    if row['stale']:
        text += f", {row['stale']} stale exclusion(s)"
    for problem in row['problems']:
        text += f'; {problem}'
    name = f"hunter suite {version[0]}.{version[1]} {row['mode'].replace(' (default)', '')}"
    return '\t'.join(['FAIL' if row['failed'] else 'PASS', name, f"{text} ({row['seconds']:.0f} s)"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--python', default=sys.executable, help='interpreter of the venv under test (default: this one)')
    parser.add_argument('--mode', action='append', dest='modes', metavar='MODE',
                        help='pure, nopure, pure:settrace, pure:monitoring, nopure:settrace, ... (repeatable; default: '
                             'pure with each backend: pure:settrace and pure:monitoring on 3.12+, pure below)')
    parser.add_argument('--exclusions', default=str(HERE / 'exclusions.txt'))
    parser.add_argument('--cache', default=str(ROOT / '.cache' / 'hunter-suite'),
                        help='where the sdist, the logs and the per-test outcomes go (default: .cache/hunter-suite)')
    parser.add_argument('--workers', type=int, default=2, help='xdist workers (0: no xdist; a crash then ends the run)')
    parser.add_argument('--max-crashes', type=int, default=0,
                        help='stop a run after this many crashed tests, the rest counting as not run (0: no limit)')
    parser.add_argument('--timeout', type=int, default=300, help='per-test timeout in seconds (pytest-timeout)')
    parser.add_argument('--no-install', action='store_true', help="do not pip install the suite's test dependencies")
    parser.add_argument('--summary-file', help='append one tab-separated STATUS, NAME, DETAIL line per mode (for .ci/run)')
    parser.add_argument('pytest_args', nargs='*', help='test ids or pytest arguments instead of the whole tests/')
    args = parser.parse_args()

    python = os.path.abspath(shutil.which(args.python) or args.python)  # not resolved: a venv's python is a symlink
    exclusions = read_exclusions(args.exclusions)
    version, purelib, scripts = python_facts(python)
    modes = [Mode(name, version) for name in (args.modes or (['pure:settrace', 'pure:monitoring']
                                                              if version >= (3, 12) else ['pure']))]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    check_installation(python, purelib)
    sdist = fetch_sdist(python, cache)
    if not args.no_install:
        install_suite_deps(python)
    args.gdb_reason = gdb_unusable_reason()
    if args.gdb_reason:
        log(f"hunter's gdb tests are skipped: {args.gdb_reason}")
    work = cache / f'python{version[0]}.{version[1]}'
    work.mkdir(exist_ok=True)

    rows = [run_mode(python, version, mode, sdist, work, scripts, exclusions, args) for mode in modes]
    print_table(version, rows)
    if args.summary_file:
        with open(args.summary_file, 'a', encoding='utf-8') as summary:
            summary.writelines(summary_line(version, row) + '\n' for row in rows)
    return 1 if any(row['failed'] for row in rows) else 0


if __name__ == '__main__':
    sys.exit(main())
