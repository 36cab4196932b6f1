"""
Remote tracing: ``hunter-trace -p PID [--gdb] [-t TIMEOUT] [-s SIGNAL] [QUERY ...]`` starts tracing in a running
process and copies its trace output to this terminal until Ctrl-C, which stops the tracing again.

The target either called :func:`install` (a oneshot manhole: the signal makes it accept one connection and run the
Python source sent over it), or, with ``--gdb``, gets the activation code injected through gdb. The trace output
comes back over a Unix socket (the "sink") in a private directory, readable and writable by its owner only.
"""

import argparse
import errno
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from contextlib import closing
from contextlib import contextmanager
from types import SimpleNamespace

if sys.platform == 'win32':
    print('ERROR: hunter.remote is not supported on Windows.', file=sys.stderr)
    sys.exit(1)

import hunter

from .__main__ import version_text

MANHOLE_CONNECT_FAILED_EXIT_CODE = 5
ATTACH_FAILED_EXIT_CODE = 1
#: How long the target waits, in seconds, for the client that signalled it to connect.
ONESHOT_ACCEPT_TIMEOUT = 5
#: How long, at least, hunter-trace waits for the target to run its code once connected, in seconds.
MANHOLE_RUN_TIMEOUT = 30


class AttachError(Exception):
    """Why ``hunter-trace`` could not attach: reported as one line, and the exit status."""

    def __init__(self, message, exit_code=ATTACH_FAILED_EXIT_CODE):
        super().__init__(message)
        self.exit_code = exit_code


def install(**kwargs):
    """
    Make this process attachable by ``hunter-trace``: a manhole that accepts one connection per ``SIGURG`` and runs
    the source it receives. Its socket is made readable and writable by the owner only (manhole also rejects
    clients of another user).
    """
    import manhole

    installed = manhole.install(oneshot_on='URG', connection_handler='exec', **kwargs)
    # manhole keeps the socket class from before any monkey-patching (gevent, eventlet).
    unpatched_socket = getattr(manhole, '_ORIGINAL_SOCKET', socket.socket)

    def get_owner_only_socket():
        # manhole binds with the process umask and listens at once; clients must not even see a socket they cannot
        # use, so it is made owner-only between the bind and the listen.
        sock = unpatched_socket(socket.AF_UNIX, socket.SOCK_STREAM)
        path = installed.remove_manhole_uds()
        sock.bind(path)
        os.chmod(path, 0o600)
        sock.listen(5)
        # The one-shot handler waits for the client in the signal handler, in the main thread: a client that gave up
        # (the target was busy in C code past its timeout) left the program waiting there for ever. A client still
        # trying connects within milliseconds of the socket appearing; manhole logs the timeout and removes it.
        sock.settimeout(ONESHOT_ACCEPT_TIMEOUT)
        return sock

    installed.get_socket = get_owner_only_socket
    return installed


class RemoteStream:
    """The stream that the target's actions write to while ``hunter-trace`` is attached: the sink socket."""

    def __init__(self, path, isatty, encoding):
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(path)
        self._isatty = isatty
        self._encoding = encoding
        self._closed = False

    def isatty(self):
        return self._isatty

    def write(self, data):
        try:
            if isinstance(data, bytes):
                self._sock.sendall(data)
            else:
                self._sock.sendall(data.encode(self._encoding, 'replace'))
        except Exception as exc:
            if self._closed:
                # deactivate() ran in the middle of this write (as a pending call, between two bytecodes of
                # it): the session is over and tracing stopped, so the output has nowhere to go.
                return
            print(f'Hunter failed to send trace output {data!r} (encoding: {self._encoding!r}): {exc!r}. Stopping tracer.', file=sys.stderr)
            deactivate()

    def flush(self):
        pass

    def close(self):
        self._closed = True
        self._sock.close()


#: What activate() started in this process (the target): its stream and its tracer, until deactivate().
_session = None

#: What activate() writes instead of the trace when it cannot start it; hunter-trace reports it as an error.
ACTIVATION_FAILED = 'Failed to activate: '


def activate(sink_path, isatty, encoding, options):
    """Run in the target: send the output to the sink and start tracing with the query ``options``. One session at a
    time: another hunter-trace's would replace its tracer, which nothing would stop then."""
    global _session
    stream = RemoteStream(sink_path, isatty, encoding)
    if _session is not None:
        stream.write(f'{ACTIVATION_FAILED}it is traced by another hunter-trace already\n')
        stream.close()
        return
    hunter._default_stream = stream
    try:
        stream.write('Output stream active. Starting tracer ...\n\n')
        args, kwargs = hunter._evaluate_arguments(options, 'the hunter-trace query')
        _session = SimpleNamespace(stream=stream, tracer=hunter.trace(*args, **kwargs))
    except Exception as exc:
        stream.write(f'{ACTIVATION_FAILED}{exc}\n')
        hunter._default_stream = sys.stderr
        stream.close()


def deactivate():
    """Run in the target (or when the stream fails): stop the session's own tracer (not one the program started
    since), write to stderr again, and close the remote stream (hunter-trace then exits)."""
    global _session
    session, _session = _session, None
    if session is None:
        return
    if hunter._default_stream is session.stream:
        hunter._default_stream = sys.stderr
    session.tracer.stop()
    if hunter._last_tracer is session.tracer:
        hunter._last_tracer = None
    session.stream.close()


def send_signal(pid, signal_number):
    """``os.kill``, with the two reasons it fails for a user (no such process, another user's) as an AttachError."""
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:
        raise AttachError(f'no process with PID {pid}') from None
    except PermissionError:
        raise AttachError(
            f'not permitted to signal PID {pid} (it belongs to another user): run hunter-trace as that user'
        ) from None


def connect_manhole(pid, timeout, signal):
    """Signal ``pid`` to open its oneshot manhole, then connect to it, retrying for ``timeout`` seconds."""
    send_signal(pid, signal)
    uds_path = f'/tmp/manhole-{pid}'
    deadline = time.monotonic() + timeout
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(timeout)
        try:
            conn.connect(uds_path)
            return conn
        except OSError as exc:
            conn.close()
            if exc.errno not in (errno.ENOENT, errno.ECONNREFUSED) or time.monotonic() > deadline:
                raise AttachError(
                    f'failed to connect to {uds_path!r} ({exc.strerror or exc}): PID {pid} must call '
                    'hunter.remote.install() first (or use --gdb); if it did, it is busy (in C code, which handles '
                    f'no signal) or slow: try a --timeout longer than {timeout:g} s',
                    MANHOLE_CONNECT_FAILED_EXIT_CODE,
                ) from None
            time.sleep(0.01)


def _run_in_manhole(args, payload):
    with closing(connect_manhole(args.pid, args.timeout, args.signal)) as conn:
        try:
            conn.sendall(payload.encode() + b'\nexit()\n')
            # The manhole closes the connection once the payload ran: wait for that, so that runs do not overlap. A
            # target busy in C code holding the GIL runs it when that ends: waited for longer than the connection.
            conn.settimeout(max(args.timeout, MANHOLE_RUN_TIMEOUT))
            while conn.recv(1024):
                pass
        except OSError as exc:
            # Another client's run took the manhole meanwhile, or the target ended or is stuck.
            raise AttachError(f'lost the connection to PID {args.pid} while it ran hunter-trace\'s code ({exc})') from None


@contextmanager
def _activated(run, args, activation_payload, deactivation_payload):
    """Runs the activation payload in the target, and the deactivation payload on the way out if it still lives and
    the session's ``deactivate`` (yielded) was not cleared: a target that closed the trace itself (it stopped
    tracing, or is exiting) has nothing left to undo, and may be gone before it could run it."""
    run(args, activation_payload)
    session = SimpleNamespace(deactivate=True)
    try:
        yield session
    finally:
        if session.deactivate and _is_alive(args.pid):
            run(args, deactivation_payload)


def manhole_bootstrap(args, activation_payload, deactivation_payload):
    return _activated(_run_in_manhole, args, activation_payload, deactivation_payload)


def _gdb_commands(payload):
    """gdb commands that make the target run ``payload`` (Python source) at its next safe point.

    gdb stops the target wherever it happens to be, inside malloc or in the middle of a memcpy, say. A string
    literal in a called function's arguments would be placed in memory gdb gets from the target's own malloc,
    re-entering it there and corrupting the heap; so the text goes into a page of its own (mmap is a system call,
    safe anywhere), written a word at a time, and CPython runs it as a pending call, between two bytecodes.
    Nor are the calls made where gdb stopped the target: a function called there found values the interrupted code
    kept in registers or below its stack pointer lost (a list item read as NULL, about one run in a dozen under
    load). They are made where the target next enters ``PyObject_Malloc`` (a program at work allocates) or
    ``PyEval_RestoreThread`` (one that sleeps or waits takes the GIL back), in any thread: at a function's first
    instruction the calling convention leaves nothing live but its arguments and the stack above them. (A target that
    does neither for a while is interrupted by ``_run_in_gdb``, and gets the calls where it stands.)
    """
    import mmap

    text = payload.encode() + b'\0'
    text += b'\0' * (-len(text) % 8)
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    commands = [
        # gdb parses commands in the language of the frame it stopped in, which can be the tracer's Rust code: the
        # commands are C. Even so, a type name gdb finds in that frame's debug info wins over C's: Rust's `char` is 4
        # bytes wide, so no `char` here; the address is an integer (Rust names no `unsigned long`).
        'set language c',
        'tbreak *PyObject_Malloc',
        'tbreak *PyEval_RestoreThread',
        'continue',
        f'set $hunter_payload = (unsigned long) mmap((void *) 0, (unsigned long) {len(text)}, '
        f'{mmap.PROT_READ | mmap.PROT_WRITE}, {flags}, -1, (long) 0)',
        'if $hunter_payload == (unsigned long) -1',
        '  echo hunter-trace: mmap failed in the target\\n',
        '  quit 1',
        'end',
    ]
    for offset in range(0, len(text), 8):
        word = int.from_bytes(text[offset : offset + 8], sys.byteorder)
        commands.append(f'set *(unsigned long long *) ($hunter_payload + {offset}) = {word:#x}')
    commands.append('call (void) Py_AddPendingCall(PyRun_SimpleString, (void *) $hunter_payload)')
    return commands


def _run_in_gdb(args, payload):
    import signal
    import subprocess

    with tempfile.NamedTemporaryFile('w', prefix='hunter-gdb-', suffix='.gdb') as script:
        script.write('\n'.join(_gdb_commands(payload)) + '\n')
        script.flush()
        # gdb's chatter goes to stderr: stdout carries the trace.
        command = ['gdb', '-p', str(args.pid), '-batch', '-x', script.name]
        try:
            gdb = subprocess.Popen(command, stdout=sys.stderr)
        except FileNotFoundError:
            raise AttachError('--gdb needs gdb, which is not installed (or not on PATH)') from None
        try:
            # A target that neither allocates nor waits never reaches the breakpoints: interrupted, it gets the calls
            # where it stands, as a last resort. Killing gdb instead would leave its breakpoints in the target.
            gdb.wait(max(args.timeout, 5))
        except subprocess.TimeoutExpired:
            gdb.send_signal(signal.SIGINT)
        try:
            status = gdb.wait(max(args.timeout, 60))
        except subprocess.TimeoutExpired:
            gdb.kill()
            gdb.wait()
            raise AttachError(f'gdb failed to inject the tracer into PID {args.pid}: it took over a minute') from None
        if status:
            raise AttachError(f'gdb failed to inject the tracer into PID {args.pid}: gdb exited with status {status}')


def gdb_bootstrap(args, activation_payload, deactivation_payload):
    print('WARNING: Using GDB may deadlock the process or create unpredictable results!', file=sys.stderr)
    return _activated(_run_in_gdb, args, activation_payload, deactivation_payload)


def _is_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _signal_number(value):
    if value.isdigit():
        number = int(value)
        if number not in signal.valid_signals() or number == 0:
            raise argparse.ArgumentTypeError(f'unknown signal {value!r}')
        return number
    name = value.upper() if value.upper().startswith('SIG') else f'SIG{value.upper()}'
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise argparse.ArgumentTypeError(f'unknown signal {value!r}') from None


#: The longest timeout taken, in seconds: a socket refuses an infinite one.
MAX_TIMEOUT = 10**6


def _timeout(value):
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    # `not <=` also refuses a NaN.
    if seconds is None or seconds <= 0 or not seconds <= MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(f'a timeout is a number of seconds above 0 and at most {MAX_TIMEOUT}, not {value!r}')
    return seconds


parser = argparse.ArgumentParser(
    prog='hunter-trace',
    description='Trace a process.',
    epilog='QUERY uses the language of PYTHONHUNTER, e.g.: hunter-trace -p 1234 stdlib=False \'~Q(kind="line")\'',
)
def _process_id(value):
    # Not 0 or negative: os.kill() would signal a whole process group, or every process (-1); nor past a pid_t.
    if not value.isdigit() or not 0 < int(value) < 2**31:
        raise argparse.ArgumentTypeError(f'a process id is a positive number below 2**31, not {value!r}')
    return int(value)


parser.add_argument('-p', '--pid', metavar='PID', required=True, type=_process_id, help='A numerical process id.')
parser.add_argument('options', metavar='QUERY', nargs='*', help='Arguments of hunter.trace(...), e.g. module="foo".')
parser.add_argument('-t', '--timeout', type=_timeout, default=1, help='Timeout to use. Default: %(default)s seconds.')
parser.add_argument('-V', '--version', action='version', version=version_text())
parser.add_argument('--gdb', action='store_true', help='Use GDB to activate tracing. WARNING: it may deadlock the process!')
parser.add_argument(
    '-s',
    '--signal',
    type=_signal_number,
    default=int(signal.SIGURG),
    help='Send the given SIGNAL (a name or number) to the process before connecting. Default: %(default)s.',
)


def main():
    try:
        _main()
    except KeyboardInterrupt:
        # Ctrl-C outside the session's copying loop ends hunter-trace as quietly as within it.
        sys.exit(130)


def _main():
    args = parser.parse_args()
    options = ','.join(args.options)
    # Checked here too (parsed, and its predicate and tracer made as the target would make them) so that a bad query
    # is reported before the target is disturbed.
    try:
        query_args, query_kwargs = hunter._evaluate_arguments(options, 'the hunter-trace query')
        hunter._tracer_and_predicate(query_args, query_kwargs)
    except (hunter.ExpressionError, TypeError, ValueError) as exc:
        parser.error(str(exc))
    try:
        send_signal(args.pid, 0)  # Signal 0 checks that the process exists and that we may signal it.
        _trace(args, options)
    except AttachError as exc:
        print(f'hunter-trace: {exc}', file=sys.stderr)
        sys.exit(exc.exit_code)


def _trace(args, options):
    """Attach to ``args.pid``, copy its trace to stdout until Ctrl-C or its end (or until stdout is gone: a reader such
    as ``head`` that stopped), then detach."""
    if sys.stdout is None:
        raise AttachError('standard output is closed: nowhere to write the trace', 2)

    sink_dir = sink = None
    try:
        sink_dir = tempfile.mkdtemp(prefix='hunter-')  # Private (0o700): nobody else can reach the socket in it.
        sink_path = os.path.join(sink_dir, 'sink')
        sink = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sink.bind(sink_path)
        os.chmod(sink_path, 0o600)
        sink.listen(1)
        sink.settimeout(max(args.timeout, 10))
        encoding = getattr(sys.stdout, 'encoding', None) or 'utf-8'
        activation = (
            f'from hunter import remote; remote.activate({sink_path!r}, {sys.stdout.isatty()!r}, {encoding!r}, {options!r})'
        )
        deactivation = 'from hunter import remote; remote.deactivate()'
        bootstrap = gdb_bootstrap if args.gdb else manhole_bootstrap
        with bootstrap(args, activation, deactivation) as session:
            try:
                conn, _ = sink.accept()
            except socket.timeout:
                raise AttachError(f'PID {args.pid} ran the activation code but did not connect back') from None
            _check_peer(conn, args.pid)
            # Copied by a thread that keeps going while the target deactivates, so that the target neither blocks
            # on a full socket nor fails on a closed one; it ends when deactivate() closes the stream.
            activation_failure = []
            copier = threading.Thread(
                target=_copy_to_stdout, args=(conn, activation_failure), name='hunter-trace output', daemon=True
            )
            try:
                # Ctrl-C while the thread starts would break into threading's own bookkeeping (on 3.10 its lock then
                # fails with "release unlocked lock"): SIGINT waits until the thread runs, and arrives in the loop.
                unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
                try:
                    copier.start()
                finally:
                    signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
                while copier.is_alive() and not _output_gone.is_set():
                    copier.join(0.1)  # Short waits: Ctrl-C is delivered between them.
                # A copier that ended saw the target close the trace itself (it stopped tracing, or is exiting):
                # there is nothing to undo, and an exiting target may be gone before it could run the code.
                session.deactivate = copier.is_alive()
            except KeyboardInterrupt:
                pass
        copier.join(max(args.timeout, 5))
        conn.close()
        if activation_failure:
            raise AttachError(f'PID {args.pid} did not start tracing: {activation_failure[0]}')
    except KeyboardInterrupt:
        pass
    finally:
        if sink is not None:
            sink.close()
        if sink_dir is not None:
            shutil.rmtree(sink_dir, ignore_errors=True)


def _check_peer(conn, pid):
    try:
        from manhole import get_peercred

        peer_pid, _, _ = get_peercred(conn)
    except Exception as exc:
        print(f'Failed to get the peer credentials of the trace output connection: {exc!r}', file=sys.stderr)
        return
    if peer_pid != pid:
        raise AttachError(f'unexpected connection from PID {peer_pid} (expected {pid})')


#: Set when stdout stopped taking the trace (a reader such as ``head`` exited): hunter-trace then detaches.
_output_gone = threading.Event()


def _copy_to_stdout(conn, activation_failure):
    """Copies the trace from ``conn`` to stdout until the target closes it. A first line that says the activation
    failed goes into ``activation_failure`` instead."""
    conn.settimeout(None)
    output = sys.stdout.buffer
    first_line = b''  # Held until it is whole: it tells whether the target started tracing.
    while True:
        data = conn.recv(1024)
        if first_line is not None:
            first_line += data
            if data and b'\n' not in first_line:
                continue
            data, first_line = first_line, None
            if data.startswith(ACTIVATION_FAILED.encode()):
                activation_failure.append(data.decode('utf-8', 'replace').partition('\n')[0][len(ACTIVATION_FAILED) :])
                return
        if not data:
            return
        if _output_gone.is_set():
            continue  # Drained until the target closes the stream, so that it never blocks on a full socket.
        try:
            output.write(data)
            output.flush()
        except OSError:
            _output_gone.set()
            # Nothing more reaches stdout, not even Python's flush at exit (which would report the broken pipe).
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
