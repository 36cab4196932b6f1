"""The interpreters a benchmark runs: where they come from and how they are prepared.

  plain   the bare interpreter (pyenv build or python3.X on PATH)
  floor   the same interpreter with the `_floortrace` no-op C extension (bench/floor/) importable;
          it is compiled against that interpreter's headers into bench/.cache/floor/
  hunter  a venv with the real hunter 3.9.0 from PyPI (binary wheel, so its Cython speedups):
          <reference venvs>/3.X if given, else bench/.cache/venvs/hunter-3.X (created on first use)
  ours    a given interpreter (--ours-python), else bench/.cache/venvs/ours-3.X with a release wheel
          of this repository, rebuilt on every run (cargo only recompiles what changed)

An implementation that cannot be prepared, or whose `hunter` cannot be imported, is returned as
unavailable with the reason; the orchestrator shows its cells as n/a.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
CACHE_DIR = BENCH_DIR / ".cache"
FLOOR_SOURCE = BENCH_DIR / "floor" / "_floortrace.c"

REFERENCE_HUNTER = "hunter==3.9.0"
MATURIN = "maturin>=1.5,<2"
LABELS = {"plain": "untraced interpreter", "floor": "C floor", "hunter": "hunter 3.9.0", "ours": "ours"}

# Checks that `hunter` imports and has the API the scenarios call; prints the version and Tracer class.
HUNTER_PROBE = (
    "import hunter; hunter.trace; hunter.stop; "
    "print(getattr(hunter, '__version__', '?'), hunter.Tracer.__module__ + '.' + hunter.Tracer.__qualname__)"
)


class SetupError(Exception):
    pass


@dataclass
class Implementation:
    name: str
    python: Optional[str]
    detail: str
    sys_path: list[str] = field(default_factory=list)

    @property
    def label(self):
        return LABELS[self.name]

    @property
    def available(self):
        return self.python is not None


def clean_environment():
    """The environment of every child process: no tracing configuration leaks in, hashing is stable."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHONHUNTER", "PUREPYTHONHUNTER", "COVERAGE_"))
        and key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    env["PYTHONHASHSEED"] = "0"
    return env


def run(command, purpose=None, **options):
    """Runs a command and returns its stdout; on failure raises SetupError with the tail of its output."""
    command = [str(part) for part in command]
    result = subprocess.run(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=options.pop("env", clean_environment()),
        **options,
    )
    if result.returncode:
        # The last two lines name the error; caret lines only point into the line above them.
        tail = [line for line in result.stdout.splitlines() if line.strip(" ^~")][-2:]
        what = purpose or shlex.join(command[:3])
        raise SetupError(f"{what} failed (exit {result.returncode}): {' | '.join(line.strip() for line in tail)}")
    return result.stdout


def minor_version(python):
    try:
        return run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).strip()
    except (OSError, SetupError):
        return None


def find_python(version):
    """The interpreter for minor version `version` ("3.12"): the newest pyenv build, else python3.X on PATH.

    Every candidate is run once, because a pyenv shim exists even for versions it cannot serve.
    """
    pyenv_builds = sorted(
        (Path.home() / ".pyenv" / "versions").glob(f"{version}.*/bin/python{version}"),
        key=lambda path: [int(part) if part.isdigit() else part for part in path.parts[-3].split(".")],
        reverse=True,
    )
    candidates = [str(path) for path in pyenv_builds] + [shutil.which("python" + version)]
    for candidate in candidates:
        if candidate and minor_version(candidate) == version:
            return candidate
    return None


def full_version(python):
    return run([python, "-c", "import platform; print(platform.python_version())"]).strip()


def venv_python(venv):
    return venv / "bin" / "python"


def ensure_venv(base_python, venv):
    """Creates `venv` from `base_python` unless it exists and still runs on that interpreter."""
    base_prefix = run([base_python, "-c", "import sys; print(sys.base_prefix)"])
    try:
        current = run([venv_python(venv), "-c", "import sys; print(sys.base_prefix)"])
    except (OSError, SetupError):
        current = None
    if current != base_prefix:
        shutil.rmtree(venv, ignore_errors=True)
        run([base_python, "-m", "venv", venv])
    return str(venv_python(venv))


def pip_install(python, *arguments):
    run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *arguments])


def probe_hunter(python):
    """Returns (version, Tracer class name) of the `hunter` that `python` imports."""
    version, tracer_class = run([python, "-c", HUNTER_PROBE], purpose=f"`import hunter` in {python}").split()
    return version, tracer_class


def prepare_plain(base_python):
    return Implementation("plain", base_python, "no tracer")


def prepare_floor(base_python):
    """Compiles bench/floor/_floortrace.c for `base_python` (cached until the source changes)."""
    try:
        config = json.loads(
            run(
                [
                    base_python,
                    "-c",
                    "import json, sysconfig; print(json.dumps({'include': sysconfig.get_paths()['include'],"
                    " 'suffix': sysconfig.get_config_var('EXT_SUFFIX'), 'cc': sysconfig.get_config_var('CC')}))",
                ]
            )
        )
        build_dir = CACHE_DIR / "floor" / config["suffix"].strip(".").rsplit(".", 1)[0]
        target = build_dir / ("_floortrace" + config["suffix"])
        if not target.exists() or target.stat().st_mtime < FLOOR_SOURCE.stat().st_mtime:
            build_dir.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            compiler = shlex.split(config["cc"] or "cc")
            run(compiler + ["-shared", "-fPIC", "-O2", "-I", config["include"], FLOOR_SOURCE, "-o", partial])
            os.replace(partial, target)
    except (OSError, SetupError) as exc:
        return Implementation("floor", None, f"could not build _floortrace: {exc}")
    return Implementation("floor", base_python, f"_floortrace from {target}", sys_path=[str(build_dir)])


def prepare_hunter(version, base_python, reference_venvs):
    """The real hunter 3.9.0: from `reference_venvs`/3.X when it has one, else from a cached bench venv."""
    try:
        given = Path(reference_venvs) / version if reference_venvs else None
        if given is not None and venv_python(given).exists():
            python = str(venv_python(given))
        else:
            python = ensure_venv(base_python, CACHE_DIR / "venvs" / ("hunter-" + version))
            try:
                probe_hunter(python)
            except SetupError:
                pip_install(python, "--only-binary=:all:", REFERENCE_HUNTER)
        hunter_version, tracer_class = probe_hunter(python)
    except (OSError, SetupError) as exc:
        return Implementation("hunter", None, str(exc))
    if hunter_version != "3.9.0":
        return Implementation("hunter", None, f"{python} has hunter {hunter_version}, not 3.9.0")
    return Implementation("hunter", python, f"{python}, hunter {hunter_version}, Tracer {tracer_class}")


def build_ours(version, base_python):
    """Builds a release wheel of this repository and installs it into bench/.cache/venvs/ours-3.X."""
    python = ensure_venv(base_python, CACHE_DIR / "venvs" / ("ours-" + version))
    pip_install(python, MATURIN)
    wheel_dir = CACHE_DIR / "wheels" / version
    shutil.rmtree(wheel_dir, ignore_errors=True)
    env = clean_environment()
    env["CARGO_TARGET_DIR"] = str(REPO_ROOT / ("target-bench-" + version))
    maturin = Path(python).parent / "maturin"
    run([maturin, "build", "--release", "--interpreter", python, "--out", wheel_dir], cwd=REPO_ROOT, env=env)
    wheels = sorted(wheel_dir.glob("*.whl"))
    pip_install(python, "--force-reinstall", "--no-deps", *wheels)
    return python


def prepare_ours(version, base_python, given_python):
    """Our package: `given_python` if set, else a fresh release build (see build_ours)."""
    try:
        python = given_python or build_ours(version, base_python)
        hunter_version, tracer_class = probe_hunter(python)
    except (OSError, SetupError) as exc:
        return Implementation("ours", None, str(exc))
    return Implementation("ours", python, f"{python}, hunter-rs {hunter_version}, Tracer {tracer_class}")


def prepare_all(version, base_python, reference_venvs, ours_python):
    """All implementations for one interpreter version, by name. Progress goes to stderr."""
    print(f"Python {version}: preparing implementations (first run creates venvs and builds)", file=sys.stderr)
    implementations = [
        prepare_plain(base_python),
        prepare_floor(base_python),
        prepare_hunter(version, base_python, reference_venvs),
        prepare_ours(version, base_python, ours_python),
    ]
    return {implementation.name: implementation for implementation in implementations}
