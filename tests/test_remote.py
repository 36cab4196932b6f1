"""``hunter-trace -p PID``: attach to a running process (manhole and gdb), see its trace, detach, re-attach."""

import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from conftest import hunter_under_test_is_reference
from gdb_probe import gdb_unusable_reason
from reference import child_env

pytestmark = [
    pytest.mark.skipif(hunter_under_test_is_reference(), reason='tests the hunter-rs remote'),
    pytest.mark.skipif(sys.platform == 'win32', reason='hunter.remote is not available on Windows'),
]

TARGET = textwrap.dedent(
    """
    import sys
    import time
    if sys.argv[1] == 'manhole':
        import hunter.remote
        hunter.remote.install(verbose=False)

    def work(i):
        return i * 2

    print('ready', flush=True)
    for i in range(6000):
        work(i)
        time.sleep(0.01)
    """
)


@pytest.fixture
def start_target(tmp_path):
    script = tmp_path / 'target.py'
    script.write_text(TARGET)
    processes = []

    def start(mode):
        process = subprocess.Popen(
            [sys.executable, str(script), mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env()
        )
        processes.append(process)
        assert process.stdout.readline() == 'ready\n'
        return process

    yield start
    for process in processes:
        process.kill()
        process.communicate()


def hunter_trace_executable():
    script = shutil.which('hunter-trace', path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, '-c', 'from hunter.remote import main; main()']


def attach(pid, *options, lines=3, timeout=30):
    """Run hunter-trace until it printed ``lines`` trace lines, then Ctrl-C it; returns (stdout lines, stderr)."""
    process = subprocess.Popen(
        [*hunter_trace_executable(), '-p', str(pid), '-t', '5', *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    output = []
    deadline = time.monotonic() + timeout
    while len([line for line in output if '=> work(' in line or '<= work:' in line]) < lines:
        line = process.stdout.readline()
        assert line and time.monotonic() < deadline, (output, process.stderr.read() if not line else '')
        output.append(line)
    process.send_signal(signal.SIGINT)
    rest, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr
    return output + rest.splitlines(keepends=True), stderr


def assert_detached(target):
    # Still running, and no trace output left behind: nothing was written to the target's own stderr.
    time.sleep(0.3)
    assert target.poll() is None
    target.kill()
    _, stderr = target.communicate()
    assert 'work' not in stderr and 'Hunter failed' not in stderr, stderr


def test_manhole_attach_detach_reattach(start_target):
    target = start_target('manhole')
    output, _ = attach(target.pid, 'function="work"', 'kind="call"')
    assert output[0] == 'Output stream active. Starting tracer ...\n'
    calls = [line for line in output if '=> work(' in line]
    assert calls and all('target.py:8' in line and ' call ' in line for line in calls), output

    output, _ = attach(target.pid, 'function="work"', 'kind="return"')
    assert any('<= work:' in line for line in output) and not any('=> work(' in line for line in output), output
    assert_detached(target)


def test_hunter_3_9_spelling_of_names_as_attributes_of_the_package(start_target):
    # hunter 3.9.0 runs the query as `hunter.trace(...)` where only `hunter` is imported: `hunter.Q`, not `Q`.
    target = start_target('manhole')
    output, _ = attach(target.pid, "hunter.Q(function='work', kind='return')", 'action=hunter.CallPrinter(repr_limit=20)')
    returns = [line for line in output if '<= work:' in line]
    assert returns and all('return' in line for line in returns), output
    assert not any('=> work(' in line for line in output), output
    assert_detached(target)


def test_second_session_is_refused_and_the_first_goes_on(start_target):
    target = start_target('manhole')
    first = subprocess.Popen(
        [*hunter_trace_executable(), '-p', str(target.pid), '-t', '5', 'function="work"', 'kind="call"'],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert first.stdout.readline() == 'Output stream active. Starting tracer ...\n'
    second = subprocess.run(
        [*hunter_trace_executable(), '-p', str(target.pid), '-t', '5', 'function="work"', 'kind="return"'],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
    )
    assert (second.returncode, second.stdout) == (1, '')
    assert second.stderr == f'hunter-trace: PID {target.pid} did not start tracing: it is traced by another hunter-trace already\n'
    # The first session still traces with its own query, and detaches cleanly.
    lines = [first.stdout.readline() for _ in range(4)]
    assert sum('=> work(' in line for line in lines) >= 2 and not any('<= work' in line for line in lines), lines
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 0, stderr
    # Then another session may start.
    output, _ = attach(target.pid, 'function="work"', 'kind="return"')
    assert any('<= work:' in line for line in output)
    assert_detached(target)


def test_manhole_socket_is_owner_only(start_target):
    import socket

    target = start_target('manhole')
    path = f'/tmp/manhole-{target.pid}'
    os.kill(target.pid, signal.SIGURG)
    deadline = time.monotonic() + 10
    with socket.socket(socket.AF_UNIX) as conn:
        # A socket that accepts is already owner-only (a file left by an ended process of the same PID refuses).
        while True:
            try:
                conn.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                assert time.monotonic() < deadline
                time.sleep(0.01)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        # Let the oneshot manhole finish (and clean up).
        conn.sendall(b'exit()\n')
        conn.recv(10)


@pytest.mark.parametrize(
    'query, error',
    [
        ('Q(module=', 'cannot parse the hunter-trace query at column 10'),
        # Parsed, but only making the predicate tells: these were reported by the target, on stdout, status 0.
        ('kind="cal"', "Value 'cal' for 'kind' is invalid"),
        ('foo=1', "Unexpected argument 'foo'"),
    ],
)
def test_bad_query_is_reported_before_attaching(start_target, query, error):
    target = start_target('manhole')
    result = subprocess.run(
        [*hunter_trace_executable(), '-p', str(target.pid), query], capture_output=True, text=True, env=child_env()
    )
    assert (result.returncode, result.stdout) == (2, '')
    assert error in result.stderr
    assert_detached(target)


def test_a_reader_that_stops_reading_detaches_quietly(start_target):
    # hunter-trace ... | head -3: the copying thread's BrokenPipeError was a traceback, and tracing went on until the
    # detach, itself a second traceback when the target took over a second to run it.
    target = start_target('manhole')
    process = subprocess.Popen(
        [*hunter_trace_executable(), '-p', str(target.pid), 'function="work"'],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    for _ in range(3):
        assert process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read()
    assert (process.wait(timeout=60), stderr) == (0, '')
    assert_detached(target)


def test_a_target_that_ends_while_attached_is_no_error(tmp_path):
    # The target's end closed the trace; hunter-trace then tried to deactivate the exiting process and said it must
    # call hunter.remote.install() first (status 5).
    script = tmp_path / 'short.py'
    script.write_text(TARGET.replace('range(6000)', 'range(150)'))
    target = subprocess.Popen(
        [sys.executable, str(script), 'manhole'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env()
    )
    try:
        assert target.stdout.readline() == 'ready\n'
        result = subprocess.run(
            [*hunter_trace_executable(), '-p', str(target.pid), 'function="work"'],
            capture_output=True,
            text=True,
            env=child_env(),
            timeout=60,
        )
        assert (result.returncode, result.stderr) == (0, '')
        assert '=> work(' in result.stdout
    finally:
        target.kill()
        target.communicate()


def test_a_signal_no_client_answers_leaves_the_target_running(tmp_path):
    # A client gone before the target handled its signal (the target was busy in C code past the client's timeout):
    # the one-shot handler waited for it in the main thread for ever.
    script = tmp_path / 'ticking.py'
    script.write_text(
        textwrap.dedent(
            """
            import time, hunter.remote
            hunter.remote.install(verbose=False)
            print('ready', flush=True)
            for tick in range(150):
                print(tick, flush=True)
                time.sleep(0.1)
            """
        )
    )
    target = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=child_env())
    reader = None
    try:
        assert target.stdout.readline() == 'ready\n'
        os.kill(target.pid, signal.SIGURG)
        ticks = []
        reader = threading.Thread(target=lambda: ticks.extend(target.stdout), daemon=True)
        reader.start()
        # It waits for a client for a few seconds, then ticks on (it stopped for good).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(ticks) < 50:
            time.sleep(0.1)
        assert len(ticks) >= 50, f'the target stopped ticking after {len(ticks)}'
        assert not os.path.exists(f'/tmp/manhole-{target.pid}')
    finally:
        target.kill()
        if reader is not None:
            # It reads to the end of the killed target's output: communicate() closing the pipe under it was an
            # exception in the thread.
            reader.join(30)
        target.communicate()


def test_closed_standard_output_is_one_line_before_attaching(start_target):
    target = start_target('manhole')
    result = subprocess.run(
        [*hunter_trace_executable(), '-p', str(target.pid), 'function="work"'],
        capture_output=False,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        preexec_fn=lambda: os.close(1),
    )
    assert (result.returncode, result.stderr) == (2, 'hunter-trace: standard output is closed: nowhere to write the trace\n')
    assert_detached(target)


def test_gdb_attach_detach_reattach(start_target):
    reason = gdb_unusable_reason()
    if reason:
        pytest.skip(reason)
    target = start_target('plain')
    for kind, marker in (('call', '=> work('), ('return', '<= work:')):
        output, stderr = attach(target.pid, '--gdb', 'function="work"', f'kind="{kind}"', timeout=120)
        assert 'WARNING: Using GDB may deadlock the process' in stderr
        assert output[0] == 'Output stream active. Starting tracer ...\n'
        assert any(marker in line for line in output), output
    assert_detached(target)


def test_stream_closed_by_deactivation_during_a_write_is_not_a_failure(tmp_path, capsys):
    # With --gdb, deactivate() runs as a pending call, which CPython may run between two bytecodes of the
    # stream's own write(): the write then finds its socket closed. That is the end of the session, not an
    # error to report on the target's stderr.
    import socket

    from hunter.remote import RemoteStream

    path = str(tmp_path / 'sink')
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    stream = RemoteStream(path, False, 'utf-8')
    conn, _ = server.accept()

    class ClosesOnEncode(str):
        def encode(self, *args):
            stream.close()
            return str(self).encode(*args)

    stream.write('live\n')
    stream.write(ClosesOnEncode('late\n'))
    stream.write('after\n')
    assert conn.recv(100) == b'live\n'
    assert conn.recv(100) == b'', 'nothing is sent once the stream is closed'
    assert capsys.readouterr().err == ''
    conn.close()
    server.close()


def run_injected_with_gdb(tmp_path, source, timeout):
    """Starts a process running `source` (which prints 'ready' once it is going) and has `_run_in_gdb` inject a
    payload into it: the payload must run, and the process go on running."""
    reason = gdb_unusable_reason()
    if reason:
        pytest.skip(reason)
    import argparse

    from hunter.remote import _run_in_gdb

    target = subprocess.Popen(
        [sys.executable, '-c', source], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env()
    )
    try:
        assert target.stdout.readline() == 'ready\n'
        marker = tmp_path / 'ran'
        _run_in_gdb(argparse.Namespace(pid=target.pid, timeout=timeout), f'open({str(marker)!r}, "w").close()')
        deadline = time.monotonic() + 30
        while not marker.exists():
            if time.monotonic() > deadline or target.poll() is not None:
                target.kill()
                raise AssertionError(f'the injected code never ran: {target.communicate()[1][:3000]}')
            time.sleep(0.05)
        assert target.poll() is None
    finally:
        target.kill()
        target.communicate()  # waits, and closes its pipes


def test_gdb_injects_while_the_target_runs_native_code(tmp_path):
    # gdb parses its command in the language of the frame the process stopped in; a target busy in the
    # extension stops in Rust code (known as such in a build with debug info, like CI's), where the C cast
    # in the injected call does not parse.
    # Even in C, gdb takes type names from that frame's debug info: Rust's 4-byte `char` made a `char *` payload
    # address step by 4 (only its first word was written: a SyntaxError in the target, one run in three).
    # And calls made where gdb stopped it lost what the list walk kept in registers (an item read as NULL, one run
    # in a dozen under load): they are made at the next clean point.
    busy = textwrap.dedent(
        """
        import hunter.util
        big = list(range(200_000))
        print('ready', flush=True)
        while True:
            hunter.util.safe_repr(big)
        """
    )
    run_injected_with_gdb(tmp_path, busy, timeout=30)


def test_gdb_injects_into_a_target_that_neither_allocates_nor_waits(tmp_path):
    # No breakpoint of a clean point is ever reached: gdb is interrupted after the timeout and injects where the
    # target stands, and the target keeps running (killing gdb would leave its breakpoints in it).
    run_injected_with_gdb(tmp_path, 'print("ready", flush=True)\nwhile True: pass', timeout=1)


def test_gdb_injection_never_calls_into_the_targets_malloc(tmp_path):
    # gdb stops the target anywhere, inside malloc too; a string it had to place in the target's memory would come
    # from the target's malloc, re-entered there (CI once saw the heap corrupted this way: a list item read as NULL).
    # With a breakpoint on malloc, any call gdb makes into it stops the injection with an error.
    reason = gdb_unusable_reason()
    if reason:
        pytest.skip(reason)
    from hunter.remote import _gdb_commands

    target = subprocess.Popen(
        [sys.executable, '-c', 'import time\nprint("ready", flush=True)\nwhile True: time.sleep(0.01)'],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert target.stdout.readline() == 'ready\n'
        marker = tmp_path / 'ran'
        script = tmp_path / 'inject.gdb'
        payload = f'open({str(marker)!r}, "w", encoding="utf-8").write("\\"quoted\\" \\\\ text é")'
        script.write_text('\n'.join(['break malloc', *_gdb_commands(payload)]) + '\n')
        gdb = subprocess.run(
            ['gdb', '-p', str(target.pid), '-batch', '-x', str(script)], capture_output=True, text=True, timeout=120
        )
        assert 'called from GDB' not in gdb.stdout + gdb.stderr
        deadline = time.monotonic() + 30
        while not marker.exists() or not marker.read_text(encoding='utf-8'):
            assert time.monotonic() < deadline, f'the injected code never ran: {gdb.stderr[-2000:]}'
            time.sleep(0.05)
        assert marker.read_text(encoding='utf-8') == '"quoted" \\ text é'
    finally:
        target.kill()
        target.communicate()  # waits, and closes its pipes


# Above the kernel's PID_MAX_LIMIT (2**22): never a process.
NO_SUCH_PID = 2**22 + 1


def hunter_trace(*args, **kwargs):
    return subprocess.run([*hunter_trace_executable(), *args], capture_output=True, text=True, env=child_env(), **kwargs)


@pytest.mark.parametrize('mode', [(), ('--gdb',)], ids=['manhole', 'gdb'])
def test_no_such_process(mode):
    result = hunter_trace('-p', str(NO_SUCH_PID), *mode)
    assert (result.returncode, result.stdout) == (1, '')
    assert result.stderr == f'hunter-trace: no process with PID {NO_SUCH_PID}\n'


@pytest.mark.parametrize('pid', ['0', '-1', 'x', str(2**31), '99999999999999999999'])
def test_pid_that_would_signal_a_process_group_or_is_no_pid_is_refused(pid):
    result = hunter_trace(f'--pid={pid}')
    assert result.returncode == 2
    assert result.stderr.endswith(f"error: argument -p/--pid: a process id is a positive number below 2**31, not '{pid}'\n")


@pytest.mark.parametrize(
    ('option', 'expected'),
    [
        ('--timeout=-5', "argument -t/--timeout: a timeout is a number of seconds above 0 and at most 1000000, not '-5'"),
        ('--timeout=0', "argument -t/--timeout: a timeout is a number of seconds above 0 and at most 1000000, not '0'"),
        ('--timeout=nan', "argument -t/--timeout: a timeout is a number of seconds above 0 and at most 1000000, not 'nan'"),
        ('--timeout=inf', "argument -t/--timeout: a timeout is a number of seconds above 0 and at most 1000000, not 'inf'"),
        ('--timeout=soon', "argument -t/--timeout: a timeout is a number of seconds above 0 and at most 1000000, not 'soon'"),
        ('--signal=99999', "argument -s/--signal: unknown signal '99999'"),
        ('--signal=0', "argument -s/--signal: unknown signal '0'"),
        ('--signal=_DFL', "argument -s/--signal: unknown signal '_DFL'"),
    ],
)
def test_option_values_that_cannot_work_are_usage_errors_before_the_target_is_signalled(option, expected):
    # They were tracebacks, some after the signal had been sent to the target.
    result = hunter_trace(f'--pid={NO_SUCH_PID}', option)
    assert (result.returncode, result.stdout) == (2, '')
    assert result.stderr.endswith(f'error: {expected}\n'), result.stderr


def test_process_we_may_not_signal(start_target):
    if os.geteuid() == 0:
        # Root may signal anything: the attempt comes from a child that drops to nobody once hunter is imported.
        target = start_target('plain').pid
        code = textwrap.dedent(
            f"""
            import os, sys
            from hunter.remote import main
            os.setgid(65534)
            os.setuid(65534)
            sys.argv = ['hunter-trace', '-p', '{target}']
            main()
            """
        )
        result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=child_env(), cwd='/')
    else:
        target = 1
        if os.stat('/proc/1').st_uid == os.geteuid():
            pytest.skip('PID 1 is our own here')
        result = hunter_trace('-p', '1')
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        f'hunter-trace: not permitted to signal PID {target} (it belongs to another user): run hunter-trace as that user\n'
    )


def test_process_without_manhole(start_target):
    target = start_target('plain')
    result = hunter_trace('-p', str(target.pid), '-t', '0.2')
    assert result.returncode == 5
    assert result.stderr == (
        f"hunter-trace: failed to connect to '/tmp/manhole-{target.pid}' (No such file or directory): "
        f'PID {target.pid} must call hunter.remote.install() first (or use --gdb); if it did, it is busy (in C code, '
        'which handles no signal) or slow: try a --timeout longer than 0.2 s\n'
    )
    assert_detached(target)


def test_version():
    import hunter

    result = hunter_trace('--version')
    assert result.returncode == 0
    assert result.stdout == f'hunter-rs {hunter.__version__} (hunter 3.9.0 compatible)\n'
