"""pytest plugin loaded by run.py into hunter 3.9.0's own test suite (``-p hunter_suite_report``).

It records every report the xdist controller sees as one JSON line, so run.py can tell apart a test that failed
from one whose worker process died (xdist reports those with ``when='???'``) without parsing pytest's text
output. It also marks hunter's gdb tests as skipped when run.py found that gdb cannot attach here, and ignores one leak of
the suite's test harness (see HARNESS_PIPE_LEAK).
"""

import json

import pytest

GDB_TESTS = ('tests/test_remote.py::test_gdb', 'tests/test_remote.py::test_gdb_clean_exit')


def pytest_addoption(parser):
    group = parser.getgroup('hunter-suite')
    group.addoption('--hunter-suite-report', metavar='PATH', help='append one JSON line per test report to PATH')
    group.addoption('--hunter-suite-skip-gdb', metavar='REASON', help="skip hunter's gdb tests, giving REASON")


def _is_xdist_worker(config):
    return hasattr(config, 'workerinput')


def _short_reason(report):
    """One line saying why a report is not a pass: the crash message, else the last line of its text."""
    longrepr = report.longrepr
    if longrepr is None:
        return ''
    if isinstance(longrepr, tuple):  # a skip: (path, line, message)
        return str(longrepr[2])
    crash = getattr(longrepr, 'reprcrash', None)
    if crash is not None and crash.message:
        return crash.message.splitlines()[0]
    lines = [line for line in str(longrepr).splitlines() if line.strip()]
    return lines[-1] if lines else ''


def _worker_of(report):
    """The xdist worker (gw0, gw1...) that ran the test: the order a worker ran its tests in explains some failures."""
    gateway = getattr(getattr(report, 'node', None), 'gateway', None)
    return getattr(gateway, 'id', None)


class Recorder:
    def __init__(self, path):
        self.stream = open(path, 'a', encoding='utf-8')  # noqa: SIM115 (closed at session end)

    def write(self, **record):
        self.stream.write(json.dumps(record) + '\n')
        self.stream.flush()

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report):
        self.write(
            type='test',
            nodeid=report.nodeid,
            when=report.when,
            outcome=report.outcome,
            xfail=hasattr(report, 'wasxfail'),
            reason=_short_reason(report) if report.outcome != 'passed' else '',
            worker=_worker_of(report),
        )

    def pytest_collectreport(self, report):
        if report.failed:
            self.write(type='collect', nodeid=report.nodeid, outcome='failed', reason=_short_reason(report))

    def pytest_collection_finish(self, session):
        if session.items:  # without xdist; under xdist the workers collect
            self.write(type='collected', node='main', ids=[item.nodeid for item in session.items])

    def pytest_xdist_node_collection_finished(self, node, ids):
        self.write(type='collected', node=node.gateway.id, ids=list(ids))

    def pytest_sessionfinish(self, session, exitstatus):
        self.write(type='finish', exitstatus=int(exitstatus))

    def pytest_unconfigure(self, config):
        self.stream.close()


# process_tests.TestProcess (3.0.0) never closes the stdout pipe of its process; the pipe is finalised whenever the
# garbage collector gets to it, and under the suite's filterwarnings=error that ResourceWarning fails whichever test
# is running then: after test_remote.py, test_tracer.py::test_mix_predicates_with_callables fails in setup with the
# real hunter 3.9.0 as well. Only that harness leak is ignored (a subprocess pipe: FileIO on a file descriptor number).
# On a loaded machine the same happens to the process itself (`Popen.__del__`: "subprocess ... is still running")
# when test_remote.py's target is slower to exit than the test (seen after test_gdb_clean_exit).
HARNESS_LEAKS = (
    r"ignore:Exception ignored in. <_io\.FileIO name=[0-9]+ mode='rb' closefd=True>:pytest.PytestUnraisableExceptionWarning",
    r"ignore:Exception ignored in. <function Popen\.__del__ at 0x[0-9a-f]+>:pytest.PytestUnraisableExceptionWarning",
)


def pytest_configure(config):
    for leak in HARNESS_LEAKS:
        config.addinivalue_line('filterwarnings', leak)
    path = config.getoption('hunter_suite_report')
    if path and not _is_xdist_worker(config):
        config.pluginmanager.register(Recorder(path), 'hunter-suite-recorder')


def pytest_collection_modifyitems(config, items):
    reason = config.getoption('hunter_suite_skip_gdb')
    if not reason:
        return
    for item in items:
        if item.nodeid in GDB_TESTS:
            item.add_marker(pytest.mark.skip(reason=reason))
