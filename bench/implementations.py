"""The interpreters a benchmark runs: where they come from and how they are prepared.

  plain   the bare interpreter (pyenv build or python3.X on PATH)
  floor   the same interpreter with the `_floortrace` no-op C extension (bench/floor/) importable;
          it is compiled against that interpreter's headers into bench/.cache/floor/
  tools   bench/.cache/venvs/tools-3.X with VizTracer and coverage.py (binary wheels), the reference points
  hunter  a venv with the real hunter 3.9.0 from PyPI (binary wheel, so its Cython speedups):
          <reference venvs>/3.X if given, else bench/.cache/venvs/hunter-3.X (created on first use)
  ours    a given interpreter (--ours-python), else bench/.cache/venvs/ours-3.X with a release wheel
          of this repository, rebuilt on every run (cargo only recompiles what changed); run with
          PYTHONHUNTERBACKEND=settrace
  ours_monitoring  the same interpreter with PYTHONHUNTERBACKEND=monitoring, on 3.12+

The packages the extra workloads import (bench/workloads_extra/requirements.txt) are installed per
interpreter into bench/.cache/deps/3.X, which goes on every implementation's sys.path.

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
REFERENCE_TOOLS = ("viztracer==1.1.1", "coverage==7.17.4")
MATURIN = "maturin>=1.5,<2"
LABELS = {
    "plain": "untraced interpreter",
    "floor": "C floor",
    "tools": "VizTracer and coverage.py",
    "hunter": "hunter 3.9.0",
    "ours": "ours (settrace)",
    "ours_monitoring": "ours (monitoring)",
}
# The backend each of our implementations runs with (hunter-rs reads it for every tracer it makes).
OURS_BACKENDS = {"ours": "settrace", "ours_monitoring": "monitoring"}

# Checks that `hunter` imports and has the API the scenarios call; prints the version and Tracer class.
HUNTER_PROBE = (
    "import hunter; hunter.trace; hunter.stop; "
    "print(getattr(hunter, '__version__', '?'), hunter.Tracer.__module__ + '.' + hunter.Tracer.__qualname__)"
)
# Checks that our package runs the backend PYTHONHUNTERBACKEND asks for.
BACKEND_PROBE = "import hunter; tracer = hunter.Tracer(); print(tracer.backend)"
TOOLS_PROBE = "import viztracer, coverage; print(viztracer.__version__, coverage.__version__)"


class SetupError(Exception):
    pass


@dataclass
class Implementation:
    name: str
    python: Optional[str]
    detail: str
    sys_path: list[str] = field(default_factory=list)
    # Set in the environment of every sample of this implementation.
    env: dict[str, str] = field(default_factory=dict)

    @property
    def label(self):
        return LABELS[self.name]

    @property
    def available(self):
        return self.python is not None


def version_tuple(version):
    return tuple(int(part) for part in version.split("."))


def clean_environment(extra=None):
    """The environment of every child process: no tracing configuration leaks in, hashing is stable;
    then `extra` on top."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHONHUNTER", "PUREPYTHONHUNTER", "COVERAGE_"))
        and key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    env["PYTHONHASHSEED"] = "0"
    env.update(extra or {})
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


def ensure_venv_with(base_python, venv, probe, requirements):
    """A venv made from `base_python` whose `probe` snippet runs; pip-installs `requirements` (binary
    wheels only) when it does not. Returns the venv's python and what the probe printed."""
    python = ensure_venv(base_python, venv)
    try:
        return python, run([python, "-c", probe]).strip()
    except SetupError:
        pip_install(python, "--only-binary=:all:", *requirements)
    return python, run([python, "-c", probe], purpose=f"{probe!r} in {python}").strip()


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


def prepare_tools(version, base_python):
    """VizTracer and coverage.py (binary wheels) in bench/.cache/venvs/tools-3.X."""
    try:
        python, versions = ensure_venv_with(
            base_python, CACHE_DIR / "venvs" / ("tools-" + version), TOOLS_PROBE, REFERENCE_TOOLS
        )
    except (OSError, SetupError) as exc:
        return Implementation("tools", None, str(exc))
    viztracer_version, coverage_version = versions.split()
    return Implementation("tools", python, f"{python}, VizTracer {viztracer_version}, coverage {coverage_version}")


def prepare_workload_deps(version, base_python, requirements_file):
    """Installs the extra workloads' requirements (binary wheels) into bench/.cache/deps/3.X for `base_python`
    (once: reinstalled when the requirements file changes). Returns the directory."""
    target = CACHE_DIR / "deps" / version
    stamp = target / "requirements.txt"
    wanted = Path(requirements_file).read_text()
    if not stamp.exists() or stamp.read_text() != wanted:
        shutil.rmtree(target, ignore_errors=True)
        run(
            [base_python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--only-binary=:all:"]
            + ["--target", target, "-r", requirements_file],
            purpose=f"installing {requirements_file} for Python {version}",
        )
        stamp.write_text(wanted)
    return str(target)


def prepare_hunter(version, base_python, reference_venvs):
    """The real hunter 3.9.0: from `reference_venvs`/3.X when it has one, else from a cached bench venv."""
    try:
        given = Path(reference_venvs) / version if reference_venvs else None
        if given is not None and venv_python(given).exists():
            python = str(venv_python(given))
        else:
            python, _ = ensure_venv_with(
                base_python, CACHE_DIR / "venvs" / ("hunter-" + version), HUNTER_PROBE, [REFERENCE_HUNTER]
            )
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
    """Our package, once per backend that this Python has: `given_python` if set, else a fresh release build
    (see build_ours). Each is checked to really run its backend."""
    names = ["ours", "ours_monitoring"] if version_tuple(version) >= (3, 12) else ["ours"]
    try:
        python = given_python or build_ours(version, base_python)
        hunter_version, tracer_class = probe_hunter(python)
    except (OSError, SetupError) as exc:
        return [Implementation(name, None, str(exc)) for name in names]
    prepared = []
    for name in names:
        env = {"PYTHONHUNTERBACKEND": OURS_BACKENDS[name]}
        try:
            backend = run([python, "-c", BACKEND_PROBE], purpose="hunter.Tracer().backend", env=clean_environment(env))
        except (OSError, SetupError) as exc:
            prepared.append(Implementation(name, None, str(exc)))
            continue
        if backend.strip() != OURS_BACKENDS[name]:
            prepared.append(Implementation(name, None, f"asked for {env}, Tracer().backend is {backend.strip()!r}"))
            continue
        detail = f"{python}, hunter-rs {hunter_version}, Tracer {tracer_class}, PYTHONHUNTERBACKEND={backend.strip()}"
        prepared.append(Implementation(name, python, detail, env=env))
    return prepared


def prepare_all(
    version, base_python, reference_venvs, ours_python, with_tools=True, extra_paths=(), callgrind=False
):
    """All implementations for one interpreter version, by name; `extra_paths` go on every sys.path.
    With `with_tools` false, VizTracer and coverage are not prepared (nor measured). With
    `callgrind`, every implementation can import `_floortrace` (the worker's collection switch).
    Progress goes to stderr."""
    print(f"Python {version}: preparing implementations (first run creates venvs and builds)", file=sys.stderr)
    floor = prepare_floor(base_python)
    implementations = [
        prepare_plain(base_python),
        floor,
        *([prepare_tools(version, base_python)] if with_tools else []),
        prepare_hunter(version, base_python, reference_venvs),
        *prepare_ours(version, base_python, ours_python),
    ]
    shared_paths = list(extra_paths) + (floor.sys_path if callgrind else [])
    for implementation in implementations:
        implementation.sys_path += [path for path in shared_paths if path not in implementation.sys_path]
    return {implementation.name: implementation for implementation in implementations}
