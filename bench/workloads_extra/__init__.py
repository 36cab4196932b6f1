"""Larger benchmark workloads that resemble real use: pure-Python packages from PyPI doing their usual job.

Same interface as the shared workloads (../../../shared/bench/workloads):
  DEFAULT_ITERS  -- iterations that take roughly 0.5-1 s untraced on CPython 3.11 (2-core box)
  setup()        -- builds the input state (not timed)
  iteration(st)  -- one unit of work; the harness times N of these

The packages they import are pinned in requirements.txt; bench/run.py installs them per interpreter into
bench/.cache/deps/3.X, which every implementation gets on sys.path (outside every venv's prefix, so
`stdlib` is False for them everywhere, as for any installed third-party package).
"""

NAMES = ("jinja2_render", "sqlparse_format", "large_arguments")
