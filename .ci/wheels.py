"""The wheels lane of CI (issue 16 item 1): wheels a user installs without Rust, and an sdist that builds offline.

    python .ci/wheels.py check --python 3.9=/path/to/python3.9 ... [--full-release]
    python .ci/wheels.py vendor-sdist dist/hunter_rs-X.Y.Z.tar.gz

``check`` does, with pinned tools in a venv of its own (.cache/wheel-tools: maturin, ziglang, auditwheel):
  1. one maturin invocation builds a manylinux2014 wheel per given interpreter, linked by zig against glibc 2.17;
  2. ``auditwheel show`` must find each one consistent with manylinux_2_17 (or older), with no external library,
     and the wheel must hold the stubs, py.typed, hunter.pth and the LICENSE;
  3. each wheel is installed into a fresh venv of its interpreter with no Rust toolchain on PATH and binaries only,
     and runs the README's demo (through PYTHONHUNTER and the .pth) and a trace through the API;
  4. ``maturin sdist`` plus the vendored crates (``vendor-sdist``) must hold the same files and build a wheel with
     pip offline (no index, no build isolation, an empty CARGO_HOME, CARGO_NET_OFFLINE), which then passes step 3.

By default the wheels are built with the release profile minus fat LTO (codegen units 16): LTO changes neither the
linked symbols nor the files, and it made the five builds take 216 s instead of 130 s here. --full-release builds
them exactly as a release does. ``vendor-sdist`` is the step release.yml runs after ``maturin sdist`` too.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS_VENV = ROOT / '.cache' / 'wheel-tools'
# Pinned: a new maturin or zig can change how the glibc version is targeted, a new auditwheel its policies.
TOOL_REQUIREMENTS = ['maturin==1.16.0', 'ziglang==0.17.1', 'auditwheel==6.8.2']
# manylinux2014: the glibc that hunter 3.9.0's wheels target too.
GLIBC_LIMIT = (2, 17)
# PEP 600 names the legacy manylinux tags by the glibc they stand for.
LEGACY_MANYLINUX_GLIBC = {'manylinux1': (2, 5), 'manylinux2010': (2, 12), 'manylinux2014': (2, 17)}
# Appended to the sdist's .cargo/config.toml: every crate comes from vendor/, so cargo needs no network.
VENDORED_SOURCES = """
# Added by .ci/wheels.py vendor-sdist: the crates come from vendor/, so this sdist builds without a network.
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "vendor"
"""
DEMO = ROOT / 'examples' / 'demo.py'
# The rows of the README's demo that every supported Python prints, in order (line events differ between versions).
DEMO_ROWS = [
    'call         => main()',
    'call            => parse(text=\'1\')',
    'return          <= parse: 1',
    'call            => parse(text=\'x\')',
    'exception        ! parse: (<class \'ValueError\'>, ValueError("invalid literal for int() with base 10: \'x\'")',
    'return          <= parse: 0',
    'return       <= main: 1',
]
# A trace through the API in the installed package, away from the checkout: the package must come from site-packages.
API_PROGRAM = """
import importlib.metadata, io, sys, sysconfig
import hunter, hunter._hunter

site_packages = sysconfig.get_paths()['purelib']
for module in (hunter, hunter._hunter):
    assert module.__file__.startswith(site_packages), (module.__file__, site_packages)
assert hunter.__version__ == importlib.metadata.version('hunter-rs'), hunter.__version__

def double(x):
    return x * 2

stream = io.StringIO()
with hunter.trace(function='double', kind='return', action=hunter.CallPrinter(stream=stream)):
    double(21)
assert '<= double: 42' in stream.getvalue(), stream.getvalue()
print('api ok', hunter.__version__, hunter._hunter.__file__)
"""


# The tags in the WHEEL file of the installed hunter-rs: the venv must hold the wheel under test, not another build.
INSTALLED_TAGS = """
import importlib.metadata
wheel = importlib.metadata.distribution('hunter-rs').read_text('WHEEL')
print(*[line.split(':', 1)[1].strip() for line in wheel.splitlines() if line.startswith('Tag:')])
"""


# -- Logic (unit-tested in tests/test_wheels.py) -------------------------------------------------------------------


def parse_wheel_name(filename):
    """The parts of a wheel's file name (PEP 427), each tag field split into its set: ``{'python': ['cp39'], ...}``."""
    stem = filename[: -len('.whl')] if filename.endswith('.whl') else None
    parts = stem.split('-') if stem else []
    if len(parts) not in (5, 6):
        raise ValueError(f'not a wheel file name: {filename!r}')
    python, abi, platform = parts[-3:]
    return {
        'distribution': parts[0],
        'version': parts[1],
        'build': parts[2] if len(parts) == 6 else None,
        'python': python.split('.'),
        'abi': abi.split('.'),
        'platform': platform.split('.'),
    }


def expanded_tags(filename):
    """Every ``python-abi-platform`` tag a wheel's file name stands for (its tag sets multiplied out)."""
    parts = parse_wheel_name(filename)
    return {
        f'{python}-{abi}-{platform}'
        for python in parts['python']
        for abi in parts['abi']
        for platform in parts['platform']
    }


def manylinux_glibc(tag):
    """``(glibc (major, minor), arch)`` of a manylinux platform tag, legacy aliases included; None for other tags."""
    match = re.fullmatch(r'manylinux_(\d+)_(\d+)_(\w+)', tag)
    if match:
        return (int(match.group(1)), int(match.group(2))), match.group(3)
    match = re.fullmatch(r'(manylinux(?:1|2010|2014))_(\w+)', tag)
    if match:
        return LEGACY_MANYLINUX_GLIBC[match.group(1)], match.group(2)
    return None


def newest_glibc_symbol(versioned_symbols):
    """The newest ``GLIBC_x.y[.z]`` symbol version any library is asked for, as a tuple ((0,) when there is none)."""
    versions = [
        tuple(int(part) for part in version[len('GLIBC_') :].split('.'))
        for library_versions in versioned_symbols.values()
        for version in library_versions
        if re.fullmatch(r'GLIBC_\d+(\.\d+)*', version)
    ]
    return max(versions, default=(0,))


def tag_problems(filename, audit, limit=GLIBC_LIMIT):
    """What is wrong with a wheel's platform tags, given its ``auditwheel show --json`` report (empty: nothing)."""
    problems = []
    claimed = [(tag, manylinux_glibc(tag)) for tag in parse_wheel_name(filename)['platform']]
    not_manylinux = [tag for tag, glibc in claimed if glibc is None]
    if not_manylinux:
        problems.append(f'platform tags that are not manylinux: {not_manylinux}')
    manylinux = [(tag, parsed) for tag, parsed in claimed if parsed is not None]
    if not manylinux:
        return problems
    too_new = [tag for tag, (glibc, _) in manylinux if glibc > limit]
    if too_new:
        problems.append(f'tags newer than glibc {limit[0]}.{limit[1]}: {too_new}')
    audited = manylinux_glibc(audit.get('overall_tag') or '')
    if audited is None:
        problems.append(f'auditwheel finds no manylinux tag it is consistent with: {audit.get("overall_tag")!r}')
        return problems
    # A compressed tag set promises every tag in it, so the oldest glibc is the one the wheel must run on.
    promised = min(glibc for _, (glibc, _) in manylinux)
    if audited[0] > promised:
        problems.append(f'the file name promises glibc {promised} but auditwheel says {audit["overall_tag"]}')
    arches = {arch for _, (_, arch) in manylinux} | {audited[1]}
    if len(arches) != 1:
        problems.append(f'architectures disagree: {sorted(arches)}')
    newest = newest_glibc_symbol(audit.get('versioned_symbols', {}))
    if newest[:2] > limit:
        problems.append(f'needs symbols of glibc {".".join(map(str, newest))}, newer than {limit[0]}.{limit[1]}')
    if audit.get('external_libs'):
        problems.append(f'links libraries outside the manylinux policy: {sorted(audit["external_libs"])}')
    return problems


def missing_files(names, required):
    """The required paths (each a literal path or a ``re`` pattern given as a compiled regex) not among names."""
    names = set(names)
    return [
        getattr(want, 'pattern', want)
        for want in required
        if not (any(want.fullmatch(name) for name in names) if hasattr(want, 'fullmatch') else want in names)
    ]


def rows_missing_in_order(output, rows):
    """The rows of ``rows`` not found in ``output`` in that order, each row a substring of one line."""
    lines = output.splitlines()
    missing = []
    position = 0
    for row in rows:
        found = next((index for index in range(position, len(lines)) if row in lines[index]), None)
        if found is None:
            missing.append(row)  # and the next row is looked for from the same place
        else:
            position = found + 1
    return missing


# -- Steps ---------------------------------------------------------------------------------------------------------


def log(message):
    print(f'[wheels] {message}', flush=True)


def run(command, **kwargs):
    # A program given with -c is shown by its first line only.
    log('$ ' + ' '.join(str(part).strip().split('\n')[0] + (' ...' if '\n' in str(part) else '') for part in command))
    return subprocess.run([str(part) for part in command], check=True, **kwargs)


def tools_python():
    """The tools venv's interpreter; the venv is made (again, when its pins changed) with the interpreter running us."""
    python = TOOLS_VENV / 'bin' / 'python'
    stamp = TOOLS_VENV / 'requirements.txt'
    wanted = '\n'.join(TOOL_REQUIREMENTS) + '\n'
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        shutil.rmtree(TOOLS_VENV, ignore_errors=True)
        run([sys.executable, '-m', 'venv', TOOLS_VENV])
        run([python, '-m', 'pip', 'install', '-q', '--disable-pip-version-check', *TOOL_REQUIREMENTS])
        stamp.write_text(wanted)
    return python


def tools_env(**extra):
    """The environment with the tools venv first on PATH: maturin finds zig through `python -m ziglang` there."""
    env = dict(os.environ, PATH=f'{TOOLS_VENV / "bin"}{os.pathsep}{os.environ.get("PATH", "")}')
    env.update(extra)
    return env


def fast_release_env(full_release):
    # Cargo reads profile settings from the environment, so Cargo.toml keeps the release profile of real releases.
    return {} if full_release else {'CARGO_PROFILE_RELEASE_LTO': 'false', 'CARGO_PROFILE_RELEASE_CODEGEN_UNITS': '16'}


def without_rust(env):
    """env with every PATH directory that holds cargo or rustc removed: installing a wheel must not need them."""
    kept = [
        directory
        for directory in env.get('PATH', '').split(os.pathsep)
        if directory and not any(os.access(os.path.join(directory, tool), os.X_OK) for tool in ('cargo', 'rustc'))
    ]
    return dict(env, PATH=os.pathsep.join(kept))


def stub_names():
    return sorted(path.name for path in (ROOT / 'python' / 'hunter').glob('*.pyi'))


def wheel_required_files(python_tag):
    version = python_tag[len('cp') :]
    return [
        'hunter/py.typed',
        'hunter.pth',
        *(f'hunter/{name}' for name in stub_names()),
        re.compile(rf'hunter/_hunter\.cpython-{version}-x86_64-linux-gnu\.so'),
        re.compile(r'hunter_rs-[^/]+\.dist-info/licenses/LICENSE'),
    ]


def sdist_required_files(top):
    return [
        f'{top}/{name}'
        for name in (
            'PKG-INFO', 'LICENSE', 'README.md', 'pyproject.toml', 'Cargo.toml', 'Cargo.lock', '.cargo/config.toml',
            'python/hunter.pth', 'python/hunter/py.typed', *(f'python/hunter/{name}' for name in stub_names()),
        )
    ]


def check_license_copy(text, where):
    if text != (ROOT / 'LICENSE').read_text(encoding='utf-8'):
        raise SystemExit(f'{where}: the LICENSE differs from the repository\'s')


def check_wheel_files(wheel, python_tag):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        missing = missing_files(names, wheel_required_files(python_tag))
        if missing:
            raise SystemExit(f'{wheel.name} lacks {missing}')
        (license_name,) = [name for name in names if name.endswith('.dist-info/licenses/LICENSE')]
        check_license_copy(archive.read(license_name).decode('utf-8'), wheel.name)


def audit(python, wheel):
    """auditwheel's report on the wheel; fails unless its tags are manylinux_2_17 compatible. Returns the report."""
    report = json.loads(
        run([python, '-m', 'auditwheel', 'show', '--json', wheel], capture_output=True, text=True).stdout
    )
    problems = tag_problems(wheel.name, report)
    if problems:
        raise SystemExit(f'{wheel.name}:\n  ' + '\n  '.join(problems))
    return report


def install_and_trace(wheel, interpreter, workdir):
    """Installs the wheel into a fresh venv of the interpreter, without Rust on PATH, and checks two traces in it."""
    venv = Path(tempfile.mkdtemp(prefix='venv-', dir=workdir))
    run([interpreter, '-m', 'venv', venv])
    env = without_rust(dict(os.environ, PATH=f'{venv / "bin"}{os.pathsep}{os.environ.get("PATH", "")}'))
    if shutil.which('cargo', path=env['PATH']) or shutil.which('rustc', path=env['PATH']):
        raise SystemExit('cargo or rustc is still on the PATH of the install step')
    env.pop('PYTHONHUNTER', None)
    # Binaries only: pip may not build anything (the dependencies are pure-Python wheels).
    python = venv / 'bin' / 'python'
    run([python, '-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--only-binary', ':all:', wheel],
        env=env, cwd=workdir)
    demo_env = dict(env, PYTHONHUNTER="module='__main__'")
    demo = run([python, DEMO], env=demo_env, cwd=workdir, capture_output=True, text=True)
    traced = [line for line in demo.stderr.splitlines() if line.strip()]
    missing = rows_missing_in_order(demo.stderr, DEMO_ROWS)
    # The file column may be clipped at its start (`[...]`) when the checkout's path is long: the name is kept.
    strangers = [line for line in traced if f'{DEMO.name}:' not in line]
    if demo.stdout != '1\n' or missing or strangers:
        raise SystemExit(
            f'the demo in a fresh venv of {wheel.name}: stdout {demo.stdout!r}, rows missing {missing}, '
            f'rows not of the demo {strangers[:5]}\n{demo.stderr}'
        )
    log(f'demo: {len(traced)} rows, all from {DEMO.name}')
    api = run([python, '-c', API_PROGRAM], env=env, cwd=workdir, capture_output=True, text=True)
    log(api.stdout.strip())
    installed = run([python, '-c', INSTALLED_TAGS], env=env, cwd=workdir, capture_output=True, text=True).stdout.split()
    if set(installed) != expanded_tags(wheel.name):
        raise SystemExit(f'the venv holds a hunter-rs tagged {installed}, not {wheel.name}')


def build_wheels(python, interpreters, out, full_release):
    command = [python, '-m', 'maturin', 'build', '--release', '--zig', '--compatibility', 'manylinux2014', '-o', out]
    for interpreter in interpreters.values():
        command += ['-i', interpreter]
    target = ROOT / '.cache' / ('wheels-target-release' if full_release else 'wheels-target')
    run(command, cwd=ROOT, env=tools_env(CARGO_TARGET_DIR=str(target), **fast_release_env(full_release)))


def vendor_sdist(sdist):
    """Rewrites a maturin sdist in place so that it also holds vendor/ (every crate of Cargo.lock, from cargo vendor)
    and a .cargo/config.toml that points cargo at it: the sdist then builds from its own contents."""
    sdist = Path(sdist).resolve()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        with tarfile.open(sdist) as archive:
            (top,) = {name.split('/')[0] for name in archive.getnames()}
            extract = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}
            archive.extractall(scratch, **extract)
        source = scratch / top
        if (source / 'vendor').exists():
            raise SystemExit(f'{sdist.name} already holds vendor/')
        vendor = ['cargo', 'vendor', '--locked', '--versioned-dirs', '--quiet', 'vendor']
        run(vendor, cwd=source, stdout=subprocess.DEVNULL)  # its stdout: the config snippet, written below instead
        config = source / '.cargo' / 'config.toml'
        config.parent.mkdir(exist_ok=True)
        with config.open('a', encoding='utf-8') as file:
            file.write(VENDORED_SOURCES)
        rewritten = sdist.with_name(sdist.name + '.partial')
        with tarfile.open(rewritten, 'w:gz') as archive:
            archive.add(source, arcname=top, filter=_owned_by_root)
        os.replace(rewritten, sdist)
    log(f'vendored the crates into {sdist.name}: {sdist.stat().st_size / 1e6:.1f} MB')


def _owned_by_root(info):
    info.uid = info.gid = 0
    info.uname = info.gname = ''
    return info


def check_sdist(python, out, full_release):
    """maturin sdist, vendored; its files; then a wheel built from it by pip with no network. Returns that wheel."""
    run([python, '-m', 'maturin', 'sdist', '-o', out], cwd=ROOT, env=tools_env())
    (sdist,) = out.glob('*.tar.gz')
    vendor_sdist(sdist)
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        top = names[0].split('/')[0]
        missing = missing_files(names, sdist_required_files(top))
        if missing or f'{top}/vendor' not in names:
            raise SystemExit(f'{sdist.name} lacks {missing or ["vendor/"]}')
        check_license_copy(archive.extractfile(f'{top}/LICENSE').read().decode('utf-8'), sdist.name)
    with tempfile.TemporaryDirectory() as empty_cargo_home:
        # An empty CARGO_HOME has no registry cache: every crate must come from the sdist. The toolchain is
        # rustup's, found through RUSTUP_HOME, and the cargo on PATH is rustup's proxy.
        env = tools_env(
            CARGO_HOME=empty_cargo_home,
            CARGO_NET_OFFLINE='true',
            RUSTUP_HOME=os.environ.get('RUSTUP_HOME', str(Path.home() / '.rustup')),
            CARGO_TARGET_DIR=str(ROOT / '.cache' / 'sdist-target'),
            **fast_release_env(full_release),
        )
        wheels = out / 'from-sdist'
        run(
            [python, '-m', 'pip', 'wheel', '-q', '--disable-pip-version-check', '--no-index', '--no-build-isolation',
             '--no-deps', '-w', wheels, sdist],
            env=env,
        )
    (wheel,) = wheels.glob('*.whl')
    return sdist, wheel


def check(arguments):
    started = time.monotonic()
    interpreters = dict(spec.split('=', 1) for spec in arguments.python)
    python = tools_python()
    out = ROOT / '.cache' / 'wheels-out'
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    build_wheels(python, interpreters, out / 'wheels', arguments.full_release)
    built = time.monotonic()
    wheels = sorted((out / 'wheels').glob('*.whl'))
    by_tag = {'cp' + version.replace('.', ''): interpreter for version, interpreter in interpreters.items()}
    found = {parse_wheel_name(wheel.name)['python'][0] for wheel in wheels}
    if found != set(by_tag):
        raise SystemExit(f'maturin built wheels for {sorted(found)}, asked for {sorted(by_tag)}')
    summary = []
    with tempfile.TemporaryDirectory() as workdir:
        workdir = Path(workdir)
        for wheel in wheels:
            python_tag = parse_wheel_name(wheel.name)['python'][0]
            report = audit(python, wheel)
            check_wheel_files(wheel, python_tag)
            install_and_trace(wheel, by_tag[python_tag], workdir)
            newest = '.'.join(map(str, newest_glibc_symbol(report['versioned_symbols'])))
            summary.append(
                f'{wheel.name}  {wheel.stat().st_size / 1e3:.0f} kB  auditwheel: {report["overall_tag"]}, '
                f'newest symbol GLIBC_{newest}'
            )
        sdist, sdist_wheel = check_sdist(python, out / 'sdist', arguments.full_release)
        check_wheel_files(sdist_wheel, parse_wheel_name(sdist_wheel.name)['python'][0])
        install_and_trace(sdist_wheel, python, workdir)
        size = sdist.stat().st_size / 1e6
        summary.append(f'{sdist.name}  {size:.1f} MB, vendored; built offline into {sdist_wheel.name}')
    log(f'build of the wheels: {built - started:.0f} s; whole check: {time.monotonic() - started:.0f} s')
    for line in summary:
        log(line)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    check_parser = commands.add_parser('check', help='build, audit, install and trace the wheels; check the sdist')
    check_parser.add_argument('--python', action='append', required=True, metavar='X.Y=PATH', help='one per wheel')
    check_parser.add_argument('--full-release', action='store_true', help='the release profile with fat LTO')
    vendor_parser = commands.add_parser('vendor-sdist', help='add the vendored crates to a maturin sdist, in place')
    vendor_parser.add_argument('sdist')
    arguments = parser.parse_args(argv)
    if arguments.command == 'check':
        check(arguments)
    else:
        vendor_sdist(arguments.sdist)


if __name__ == '__main__':
    main()
