"""Sandcell driver: the persistent interpreter inside a kernel's gVisor sandbox (Python, or Bash).

It speaks newline-delimited JSON with the kernel process on the host. Requests arrive on fd 0, one per
line: {"op": "execute" | "complete" | "inspect" | "is_complete" | "ping", ...}. Events go out on the
original fd 1, one per line: {"ev": "stream" | "display_data" | "update_display_data" | "clear_output" |
"execute_result" | "error" | "input_request" | "reply" | "ready", ...}. Every request ends with exactly one
"reply" event, which carries "next_execution_count": the count the next cell will run with (so the kernel
publishes a cell's execute_input itself, while the driver is still reading the request; "ready" carries it
as "execution_count"). Each request carries a number, "seq", which its reply and input requests carry back.

The user's code does not stumble on the protocol descriptors: fd 0 reads /dev/null, and fds 1 and 2 are
pipes whose bytes come back as "stream" events, so output of C extensions and child processes is shown too.
A cell runs in this process and can still reach them on purpose, so the kernel trusts nothing it reads
here: lines are bounded, a reply counts only for the request it names, and input is asked for only when
the request allowed it.
IPython's shell is used when it is installed; otherwise a small equivalent runs the code. With
SANDCELL_LANGUAGE=bash the driver keeps one Bash process instead, so the cwd and variables persist.
"""

import base64
import builtins
import codecs
import json
import os
import signal
import sys
import threading
import time
import traceback

_T0 = time.monotonic()
# --- protocol descriptors --------------------------------------------------------------------------

_PROTO_IN = os.fdopen(os.dup(0), "rb", buffering=1 << 16)  # buffered: one read() per chunk, not per byte
_PROTO_OUT = os.dup(1)
_LOG = os.dup(2)  # runsc's log file, for the driver's own diagnostics
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
_send_lock = threading.Lock()
_current_seq = None  # the number of the request being handled, echoed in its reply and input requests
_STREAM_FLUSH_BYTES = 64 * 1024
_STREAM_FLUSH_SECONDS = 0.05
_STREAM_CHUNK_CHARS = 1 << 20


def _log(text):
    try:
        os.write(_LOG, ("sandcell-driver: " + text + "\n").encode("utf-8", "replace"))
    except OSError:
        pass


def _jsonable(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return repr(value)


def _write_all(fd, data):
    # gVisor returns short writes above 64 KiB on pipes: loop until everything is out.
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def send(event):
    line = json.dumps(event, default=_jsonable, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"
    with _send_lock:
        _write_all(_PROTO_OUT, line)


def read_request():
    """The next request; None once the kernel has closed the pipe. The kernel starts every request on a line of
    its own, so bytes a cell wrote into this pipe end up on lines that are no request, and are skipped."""
    while True:
        line = _PROTO_IN.readline()
        if not line:
            return None
        if not line.strip():
            continue
        try:
            return json.loads(line)
        except ValueError:
            _log("skipped %d bytes on the request pipe that are no request" % len(line))


# --- output streams --------------------------------------------------------------------------------

class Stream:
    """A text stream whose writes become "stream" events, batched by size and time."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, name, fd):
        self.name = name
        self._fd = fd
        self._parts = []
        self._size = 0
        self._lock = threading.Lock()

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not " + type(text).__name__)
        if text:
            with self._lock:
                self._parts.append(text)
                self._size += len(text)
                big = self._size >= _STREAM_FLUSH_BYTES
            if big:
                self.flush()
            else:
                _output_waiting.set()
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        with self._lock:
            if not self._parts:
                return
            text = "".join(self._parts)
            self._parts = []
            self._size = 0
            # one event per chunk: a huge write never becomes one huge JSON line
            for start in range(0, len(text), _STREAM_CHUNK_CHARS):
                send({"ev": "stream", "name": self.name, "text": text[start:start + _STREAM_CHUNK_CHARS]})

    def fileno(self):
        return self._fd

    def isatty(self):
        return False

    def readable(self):
        return False

    def writable(self):
        return True

    def seekable(self):
        return False

    @property
    def closed(self):
        return False

    def close(self):
        pass


STDOUT = Stream("stdout", 1)
STDERR = Stream("stderr", 2)


def flush_streams():
    STDOUT.flush()
    STDERR.flush()


def _flusher():
    # Sleeps until output is buffered, so that an idle sandbox costs no CPU (a timed wake-up every 50 ms
    # costs about 4% of a core under gVisor), then sends what gathered within 50 ms.
    while True:
        _output_waiting.wait()
        time.sleep(_STREAM_FLUSH_SECONDS)
        _output_waiting.clear()
        try:
            flush_streams()
        except Exception:  # never let the flusher die
            pass


_output_waiting = threading.Event()


class FdCapture:
    """Points an OS-level descriptor at a pipe and forwards what arrives to a Stream.

    The pipe's read end is non-blocking and every read of it happens under one lock, by the pump thread while
    the cell runs and by the main thread at the cell's end (sync). Whatever a cell wrote before sync is then
    either still in the pipe, and read by sync, or was read by the pump, which emits it before releasing the
    lock: a poll that finds the pipe empty, then taking the lock, proves that everything reached the stream,
    without a round trip through the pump thread.
    """

    def __init__(self, fd, stream):
        self._stream = stream
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        os.set_blocking(read_end, False)
        self._read_end = read_end
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._lock = threading.Lock()
        threading.Thread(target=self._pump, name="fd%d" % fd, daemon=True).start()

    def _pump(self):
        import select
        poller = select.poll()
        poller.register(self._read_end, select.POLLIN)
        while True:
            try:
                poller.poll()
            except InterruptedError:
                continue
            if not self._drain():
                return

    def _drain(self):
        """Emits everything the pipe holds; False once it is closed (every writer gone, or a cell closed it)."""
        with self._lock:
            while True:
                try:
                    chunk = os.read(self._read_end, 65536)
                except BlockingIOError:
                    return True
                except InterruptedError:
                    continue
                except OSError:
                    return False
                if not chunk:
                    return False
                self._stream.write(self._decoder.decode(chunk))

    @property
    def read_end(self):
        return self._read_end

    def sync(self, readable):
        """Waits until everything written to the descriptor so far has reached the stream.

        readable: whether a poll found bytes in the pipe. If it found none, whatever was written was read by
        the pump, under the lock it holds until the bytes are in the stream: taking the lock is enough.
        """
        if readable:
            self._drain()
        else:
            with self._lock:
                pass


class Captures:
    """The captured descriptors of a cell, synced at its end with one poll() for all of them."""

    def __init__(self, captures):
        import select
        self._captures = captures
        self._poller = select.poll()
        for capture in captures:
            self._poller.register(capture.read_end, select.POLLIN)

    def sync(self):
        ready = {fd for fd, _ in self._poller.poll(0)}  # a signal retries it (PEP 475)
        for capture in self._captures:
            capture.sync(capture.read_end in ready)


# --- shared helpers --------------------------------------------------------------------------------

def code_and_cursor(req):
    """The code of a complete or inspect request and its cursor position (the end when absent)."""
    code = req.get("code", "")
    cursor = req.get("cursor_pos")
    return code, len(code) if cursor is None else int(cursor)


def encode_bundle(data):
    """Makes a MIME bundle JSON-ready: binary images become base64 without newlines."""
    out = {}
    for mime, value in (data or {}).items():
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = base64.b64encode(bytes(value)).decode("ascii")
        elif isinstance(value, str) and mime.startswith("image/") and mime != "image/svg+xml":
            value = value.replace("\n", "")
        out[mime] = value
    return out


_executing = False
_interrupt_hook = None  # set by a shell that interrupts a child instead of the driver itself


def _on_sigint(signum, frame):
    if _executing:
        if _interrupt_hook is not None:
            _interrupt_hook()
            return
        raise KeyboardInterrupt


class StdinNotImplementedError(IOError, NotImplementedError):
    """input() in a cell whose request did not allow stdin (IPython's class replaces this one)."""


_StdinError = StdinNotImplementedError


def _stdin_disabled(prompt=""):
    raise _StdinError("raw_input was called, but this frontend does not support input requests.")


def _request_input(prompt="", password=False):
    flush_streams()
    send({"ev": "input_request", "prompt": str(prompt), "password": bool(password), "seq": _current_seq})
    while True:
        msg = read_request()
        if msg is None:
            raise EOFError("the kernel closed the connection")
        if msg.get("op") == "input_reply":
            value = msg.get("value", "")
            if msg.get("interrupted"):
                raise KeyboardInterrupt
            return value
        _log("ignored %r while waiting for input" % (msg.get("op"),))


def _input(prompt=""):
    return _request_input(prompt, False)


def _getpass(prompt="Password: ", stream=None):
    return _request_input(prompt, True)


def _install_input(allow_stdin):
    import getpass
    builtins.input = _input if allow_stdin else _stdin_disabled
    getpass.getpass = _getpass if allow_stdin else _stdin_disabled


def run_system(cmd):
    """Runs a shell command with its output streamed into the cell; returns the exit code."""
    import subprocess
    flush_streams()
    proc = subprocess.Popen(cmd, shell=True, executable="/bin/bash" if os.path.exists("/bin/bash") else None,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    try:
        while True:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            STDOUT.write(decoder.decode(chunk))
        return proc.wait()
    except KeyboardInterrupt:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
        raise
    finally:
        proc.stdout.close()


# --- the IPython shell -----------------------------------------------------------------------------

def make_ipython_shell():
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core import error as ipy_error
    from traitlets import Type
    from traitlets.config import Config

    global _StdinError
    _StdinError = ipy_error.StdinNotImplementedError

    class Hook(DisplayHook):
        def start_displayhook(self):
            self._msg = {"ev": "execute_result", "execution_count": self.prompt_count, "data": {}, "metadata": {}}

        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            self._msg["data"] = encode_bundle(format_dict)
            self._msg["metadata"] = md_dict or {}

        def finish_displayhook(self):
            flush_streams()
            send(self._msg)
            self._msg = None

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            flush_streams()
            send({"ev": "update_display_data" if update else "display_data", "data": encode_bundle(data),
                  "metadata": metadata or {}, "transient": transient or {}})

        def clear_output(self, wait=False):
            flush_streams()
            send({"ev": "clear_output", "wait": bool(wait)})

    class Shell(InteractiveShell):
        displayhook_class = Type(Hook)
        display_pub_class = Type(Publisher)
        last_error = None

        def _showtraceback(self, etype, evalue, stb):
            if _quiet_errors:
                return  # the warm-up's own error: nobody's
            flush_streams()
            err = {"ename": getattr(etype, "__name__", "Error"), "evalue": str(evalue), "traceback": list(stb)}
            self.last_error = err
            send(dict(err, ev="error"))

        def system(self, cmd):
            self.user_ns["_exit_code"] = run_system(self.var_expand(cmd, depth=1))

        def enable_gui(self, gui=None):
            pass

        def ask_exit(self):
            # exit() and quit(): the frontend sees the payload and closes, as with ipykernel
            self.payload_manager.write_payload({"source": "ask_exit", "keepkernel": False})

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "Linux"
    config.InteractiveShell.autocall = 0
    shell = Shell.instance(config=config)
    shell.display_page = True
    return IPythonKernelShell(shell)


class IPythonKernelShell:
    implementation = "ipython"

    def __init__(self, shell):
        self.shell = shell

    def execution_count(self):
        return self.shell.execution_count

    def execute(self, req):
        shell = self.shell
        shell.last_error = None
        result = shell.run_cell(req.get("code", ""), store_history=bool(req.get("store_history", True)),
                                silent=bool(req.get("silent", False)))
        reply = {"execution_count": shell.execution_count - (1 if req.get("store_history", True)
                                                             and not req.get("silent") else 0)}
        if result.success:
            reply["status"] = "ok"
            reply["user_expressions"] = shell.user_expressions(req.get("user_expressions") or {})
        else:
            reply["status"] = "error"
            err = shell.last_error or {"ename": "Error", "evalue": str(result.error_before_exec
                                                                        or result.error_in_exec),
                                       "traceback": []}
            reply.update(err)
            reply["user_expressions"] = {}
        payloads = shell.payload_manager.read_payload()
        shell.payload_manager.clear_payload()
        reply["payload"] = payloads
        return reply

    def complete(self, req):
        from IPython.utils.tokenutil import line_at_cursor
        code, cursor = code_and_cursor(req)
        line, offset = line_at_cursor(code, cursor)
        text, matches = self.shell.complete("", line, cursor - offset)
        return {"status": "ok", "matches": list(matches), "cursor_start": cursor - len(text),
                "cursor_end": cursor, "metadata": {}}

    def inspect(self, req):
        from IPython.utils.tokenutil import token_at_cursor
        code, cursor = code_and_cursor(req)
        name = token_at_cursor(code, cursor)
        reply = {"status": "ok", "found": False, "data": {}, "metadata": {}}
        try:
            bundle = self.shell.object_inspect_mime(name, detail_level=int(req.get("detail_level", 0)))
            reply["data"] = encode_bundle(bundle)
            reply["found"] = True
        except KeyError:
            pass
        return reply

    def is_complete(self, req):
        status, indent = self.shell.input_transformer_manager.check_complete(req.get("code", ""))
        reply = {"status": status}
        if status == "incomplete":
            reply["indent"] = " " * (indent or 0)
        return reply


# --- the fallback shell, for a sandbox root without IPython ----------------------------------------

class PlainShell:
    implementation = "python"

    def __init__(self):
        import __main__
        self.ns = __main__.__dict__
        self.ns["display"] = self.display
        self.count = 1

    def execution_count(self):
        return self.count

    @staticmethod
    def format(obj):
        data = {"text/plain": repr(obj)}
        metadata = {}
        bundle = getattr(obj, "_repr_mimebundle_", None)
        if callable(bundle):
            try:
                got = bundle()
                if isinstance(got, tuple):
                    got, metadata = got
                data.update(got or {})
            except Exception:
                pass
        for mime, attr in (("text/html", "_repr_html_"), ("text/markdown", "_repr_markdown_"),
                           ("image/svg+xml", "_repr_svg_"), ("image/png", "_repr_png_"),
                           ("image/jpeg", "_repr_jpeg_"), ("text/latex", "_repr_latex_"),
                           ("application/json", "_repr_json_")):
            method = getattr(obj, attr, None)
            if callable(method) and not isinstance(obj, type):
                try:
                    value = method()
                except Exception:
                    value = None
                if value is not None:
                    data[mime] = value
        return encode_bundle(data), metadata

    def display(self, *objs, **kwargs):
        for obj in objs:
            data, metadata = self.format(obj)
            flush_streams()
            send({"ev": "display_data", "data": data, "metadata": metadata, "transient": {}})

    def execute(self, req):
        import ast
        code = req.get("code", "")
        store = bool(req.get("store_history", True)) and not req.get("silent")
        count = self.count
        if store:
            self.count += 1
        try:
            tree = ast.parse(code, "<cell>", "exec")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            exec(compile(tree, "<cell>", "exec"), self.ns)
            if last is not None:
                value = eval(compile(last, "<cell>", "eval"), self.ns)
                if value is not None and not req.get("silent"):
                    self.ns["_"] = value
                    data, metadata = self.format(value)
                    flush_streams()
                    send({"ev": "execute_result", "execution_count": count, "data": data, "metadata": metadata})
        except BaseException as e:  # noqa: B902 - KeyboardInterrupt and SystemExit are reported too
            err = {"ename": type(e).__name__, "evalue": str(e),
                   "traceback": traceback.format_exception(type(e), e, e.__traceback__)}
            flush_streams()
            send(dict(err, ev="error"))
            return dict(err, status="error", execution_count=count, user_expressions={}, payload=[])
        return {"status": "ok", "execution_count": count, "user_expressions": {}, "payload": []}

    def complete(self, req):
        import re
        import rlcompleter
        code, cursor = code_and_cursor(req)
        token = re.search(r"[\w.]*$", code[:cursor]).group(0)
        completer = rlcompleter.Completer(self.ns)
        matches = []
        while len(matches) < 200:
            m = completer.complete(token, len(matches))
            if m is None:
                break
            matches.append(m)
        return {"status": "ok", "matches": matches, "cursor_start": cursor - len(token), "cursor_end": cursor,
                "metadata": {}}

    def inspect(self, req):
        import pydoc
        import re
        code, cursor = code_and_cursor(req)
        m = re.search(r"[\w.]*$", code[:cursor])
        name = m.group(0) if m else ""
        try:
            obj = eval(name, self.ns) if name else None
        except Exception:
            obj = None
        if obj is None:
            return {"status": "ok", "found": False, "data": {}, "metadata": {}}
        return {"status": "ok", "found": True, "data": {"text/plain": pydoc.plain(pydoc.render_doc(obj))},
                "metadata": {}}

    def is_complete(self, req):
        import codeop
        code = req.get("code", "")
        try:
            compiled = codeop.compile_command(code, "<cell>", "exec")
        except (SyntaxError, OverflowError, ValueError):
            return {"status": "invalid"}
        if compiled is None or code.rstrip("\n").endswith(":"):
            return {"status": "incomplete", "indent": "    "}
        return {"status": "complete"}


# --- the Bash shell ------------------------------------------------------------------------------------

class BashShell:
    """One long-lived Bash process; each cell is sourced into it, so cwd, variables and functions persist.

    A cell runs as `source FILE` inside a function that traps SIGINT with `return 130`, so an interrupt
    stops the cell and keeps the shell. The exit status comes back on a private pipe (fd 99 in Bash).
    Output goes to the driver's fds 1 and 2, which are captured like Python's.
    """

    implementation = "bash"
    STATUS_FD = 99
    INTERRUPT_GRACE_SECONDS = 2.0

    def __init__(self):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix=".sandcell-bash-")
        self.count = 1
        self.proc = None
        self.status = None
        self.version = ""
        self._interrupted_at = None
        self._start()

    def _start(self):
        import subprocess
        read_end, write_end = os.pipe()
        os.dup2(write_end, self.STATUS_FD)
        os.close(write_end)
        env = dict(os.environ)
        env.pop("SANDCELL_PRELOAD", None)
        env["PS1"] = ""
        try:
            self.proc = subprocess.Popen(["/bin/bash", "--noprofile", "--norc"], stdin=subprocess.PIPE,
                                         pass_fds=(self.STATUS_FD,), start_new_session=True, env=env)
        finally:
            os.close(self.STATUS_FD)
        if self.status is not None:
            self.status.close()
        self.status = os.fdopen(read_end, "rb", buffering=0)
        self._send("shopt -s expand_aliases checkwinsize; printf '%s\\n' \"$BASH_VERSION\" >&99")
        self.version = self._read_line() or ""

    def _send(self, line):
        self.proc.stdin.write(line.encode("utf-8") + b"\n")
        self.proc.stdin.flush()

    def _read_line(self):
        """The next line on the status pipe, or None when Bash has exited."""
        buf = b""
        while True:
            try:
                chunk = self.status.read(1)
            except InterruptedError:
                continue
            if not chunk:
                return None
            if chunk == b"\n":
                return buf.decode("utf-8", "replace")
            buf += chunk

    def _interrupt(self):
        import time
        self._interrupted_at = time.monotonic()
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
        except OSError:
            pass
        threading.Timer(self.INTERRUPT_GRACE_SECONDS, self._kill_if_stuck, args=(self._interrupted_at,)).start()

    def _kill_if_stuck(self, stamp):
        # A command that ignores SIGINT: kill the whole group; the shell restarts and reports it.
        if _executing and self._interrupted_at == stamp:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass

    def _run(self, script, path):
        """Sources script in the persistent shell; returns its exit status, or None if Bash died."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(script)
            f.write("\n")
        try:
            self._send("__sandcell_cell() { trap 'trap - INT; return 130' INT; source %s </dev/null 99>&-; }; "
                       "__sandcell_cell; printf '%%d\\n' $? >&99; trap - INT" % path)
        except (BrokenPipeError, ValueError):
            return None
        line = self._read_line()
        return int(line) if line is not None and line.strip().lstrip("-").isdigit() else None

    def execution_count(self):
        return self.count

    def execute(self, req):
        global _interrupt_hook
        code = req.get("code", "")
        store = bool(req.get("store_history", True)) and not req.get("silent")
        count = self.count
        if store:
            self.count += 1
        self._interrupted_at = None
        _interrupt_hook = self._interrupt
        try:
            rc = self._run(code, os.path.join(self.dir, "cell.sh"))
        finally:
            _interrupt_hook = None
        if rc is None:
            code_ = self.proc.wait()
            self._start()
            why = ("the shell was killed after ignoring an interrupt" if self._interrupted_at is not None
                   else "the shell exited with status %d" % code_)
            err = {"ename": "ShellExited", "evalue": why + "; a new shell was started (cwd and variables "
                   "are reset)", "traceback": [why + "; a new shell was started (cwd and variables are reset)"]}
        elif rc == 0:
            return {"status": "ok", "execution_count": count, "user_expressions": {}, "payload": []}
        elif self._interrupted_at is not None and rc == 130:
            err = {"ename": "KeyboardInterrupt", "evalue": "", "traceback": ["interrupted"]}
        else:
            err = {"ename": "ExitCode", "evalue": str(rc), "traceback": ["exit code %d" % rc]}
        flush_streams()
        send(dict(err, ev="error"))
        return dict(err, status="error", execution_count=count, user_expressions={}, payload=[])

    def _query(self, script):
        """Runs a helper script in the persistent shell (its cwd and variables) and returns its stdout."""
        out = os.path.join(self.dir, "query.out")
        rc = self._run("{ %s ; } >%s 2>/dev/null" % (script, out), os.path.join(self.dir, "query.sh"))
        if rc is None:
            self.proc.wait()
            self._start()
            return ""
        try:
            with open(out, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    @staticmethod
    def _quote(text):
        return "'" + text.replace("'", "'\\''") + "'"

    def complete(self, req):
        import re
        code, cursor = code_and_cursor(req)
        token = re.search(r"[^\s;|&<>()'\"`]*$", code[:cursor]).group(0)
        matches = []
        if token.startswith("$"):
            found = self._query("compgen -v -- %s | head -200" % self._quote(token[1:]))
            matches = ["$" + m for m in found.split("\n") if m]
        else:
            first = not code[:cursor - len(token)].strip() or re.search(r"[;|&(]\s*$", code[:cursor - len(token)])
            kinds = "-c -f" if first else "-f"
            found = self._query("compgen %s -- %s | sort -u | head -200" % (kinds, self._quote(token)))
            matches = [m for m in found.split("\n") if m]
        return {"status": "ok", "matches": matches, "cursor_start": cursor - len(token), "cursor_end": cursor,
                "metadata": {}}

    def inspect(self, req):
        import re
        code, cursor = code_and_cursor(req)
        m = re.search(r"[\w.-]*$", code[:cursor])
        name = m.group(0) if m else ""
        if not name:
            return {"status": "ok", "found": False, "data": {}, "metadata": {}}
        text = self._query("help %s 2>/dev/null || type -a %s" % (self._quote(name), self._quote(name)))
        if not text.strip():
            return {"status": "ok", "found": False, "data": {}, "metadata": {}}
        return {"status": "ok", "found": True, "data": {"text/plain": text}, "metadata": {}}

    def is_complete(self, req):
        import subprocess
        code = req.get("code", "")
        proc = subprocess.run(["/bin/bash", "-n"], input=code.encode("utf-8"), capture_output=True, timeout=5)
        if proc.returncode == 0:
            return {"status": "complete"}
        if b"unexpected end of file" in proc.stderr:
            return {"status": "incomplete", "indent": ""}
        return {"status": "invalid"}


# --- matplotlib inside gVisor ------------------------------------------------------------------------

_FONT_BYTES_MAX = 64 << 20


def fonts_from_memory():
    """Makes the fonts matplotlib opens read from a copy in memory instead of the file.

    FreeType reads a font through matplotlib's Python file object, with a seek and a read for every glyph it
    loads: about 150 system calls to lay out one tick label. A system call costs about 10 us inside gVisor
    against 1 us natively, so text layout took 1.5 ms a label in a sandbox against 0.13 ms, half of a small
    plot's time. From memory it takes the native 0.12 ms. The fonts keep their path as fname, which is what
    the PDF and PostScript backends embed. Applied once matplotlib.font_manager is imported; any failure
    leaves matplotlib as it was.
    """
    fm = sys.modules.get("matplotlib.font_manager")
    if fm is None or getattr(fm, "_sandcell_fonts", None) is not None:
        return
    fm._sandcell_fonts = False
    try:
        import io
        import types
        ft2font = fm.ft2font
        base = ft2font.FT2Font

        class MemoryFont(base):
            def __init__(self, filename, *args, **kwargs):
                path = os.fspath(filename) if isinstance(filename, (str, bytes, os.PathLike)) else None
                source = filename
                if path is not None:
                    with open(path, "rb") as f:
                        data = f.read(_FONT_BYTES_MAX + 1)
                    if len(data) <= _FONT_BYTES_MAX:
                        source = io.BytesIO(data)
                self._sandcell_path = path
                super().__init__(source, *args, **kwargs)

            @property
            def fname(self):
                return self._sandcell_path if self._sandcell_path is not None else super().fname

        clear_cache = fm._get_font.cache_clear
        probe = fm.findfont("DejaVu Sans", fallback_to_default=True)
        MemoryFont(probe).set_text("Sandcell 0.5", 0.0)
        proxy = types.ModuleType(ft2font.__name__)
        proxy.__dict__.update(ft2font.__dict__)
        proxy.FT2Font = MemoryFont
        fm.ft2font = proxy  # the last step that can go wrong is done: from here on fonts come from memory
        clear_cache()
        fm._sandcell_fonts = True
    except Exception as e:  # matplotlib's internals differ: keep reading fonts from files
        _log("fonts stay on disk: %s: %s" % (type(e).__name__, e))


def warm_matplotlib(shell):
    """Renders one small figure off screen the way a cell's plot is shown, before the sandbox serves anyone.

    The first plot of an interpreter loads the inline backend, its fonts and the PNG writer; done here, that
    work is in the sandbox image, and a user's first plot costs what later ones do. The figure is made
    without pyplot, so no figure is left open for the first cell to show.
    """
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    try:
        backend = getattr(plt, "_get_backend_mod", None)
        if backend is not None:
            backend()  # loads the backend: the inline one registers its display formatters
        from matplotlib.figure import Figure
        fig = Figure()
        ax = fig.add_subplot()
        ax.plot([1, 2, 3])
        ax.set_title("Sandcell")
        formatter = getattr(getattr(shell, "shell", None), "display_formatter", None)
        if formatter is not None:
            formatter.format(fig)
        else:
            import io
            fig.savefig(io.BytesIO(), format="png")
    except Exception as e:  # a broken matplotlib is the user's to find, in their cell
        _log("matplotlib warm-up failed: %s: %s" % (type(e).__name__, e))


def tune_modules():
    """Applies the sandbox-specific speed-ups to modules that are loaded (after the preloads, after a cell)."""
    if "matplotlib.font_manager" in sys.modules:
        fonts_from_memory()


def warm_dataframe(shell):
    """Formats one small DataFrame the way a cell's result is shown, before the sandbox serves anyone.

    A DataFrame's first display of an interpreter (its HTML and text) loads pandas' formatters: 21 ms
    natively against 7 ms for the next one. Done here, that work is in the sandbox image.
    """
    pd = sys.modules.get("pandas")
    formatter = getattr(getattr(shell, "shell", None), "display_formatter", None)
    if pd is None or formatter is None:
        return
    try:
        df = pd.DataFrame({"n": [1, 2, 3], "x": [0.5, 1.5, 2.5], "s": ["a", "b", "c"]})
        formatter.format(df)
        formatter.format(df.describe())
    except Exception as e:  # a broken pandas is the user's to find, in their cell
        _log("DataFrame warm-up failed: %s: %s" % (type(e).__name__, e))


_WARM_ERROR_CELL = "1/0"
_quiet_errors = False


def warm_traceback(shell):
    """Formats one error the way a cell's error is shown, before the sandbox serves anyone.

    IPython's first traceback of an interpreter parses the source of every file on the stack (its own
    interactiveshell.py among them) and loads the highlighter: 130 ms natively and 350 to 480 ms in gVisor, on
    every call whose cell fails. Done here, that work is in the sandbox image. The cell stores no history,
    keeps the execution count, sends nothing, and leaves no sys.last_* behind.
    """
    global _quiet_errors
    ipython = getattr(shell, "shell", None)
    if ipython is None:
        return
    _quiet_errors = True
    try:
        ipython.run_cell(_WARM_ERROR_CELL, store_history=False, silent=True)
    except Exception as e:  # a broken IPython is the user's to find, in their cell
        _log("traceback warm-up failed: %s: %s" % (type(e).__name__, e))
    finally:
        _quiet_errors = False
        ipython.last_error = None
        for name in ("last_type", "last_value", "last_traceback", "last_exc"):
            if hasattr(sys, name):
                delattr(sys, name)


# --- restored from a checkpoint image ---------------------------------------------------------------

def restored(req, shell):
    """Makes a driver restored from a shared checkpoint image its kernel's own.

    Every sandbox restored from one image starts with the same memory, so the generators seeded at import
    time would give every kernel the same numbers: reseed them from the (per-sandbox) system entropy.
    """
    import random
    random.seed()
    np_random = sys.modules.get("numpy.random")
    if np_random is not None:
        np_random.seed()
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:
        tempfile._name_sequence = None  # its Random is rebuilt on next use, from fresh entropy
    kernel_id = req.get("kernel_id")
    if kernel_id:
        os.environ["SANDCELL_KERNEL_ID"] = str(kernel_id)
    warm = req.get("warm")
    if warm and not isinstance(shell, BashShell):
        warm_up(shell, plot=warm == "plot")
    return {"status": "ok"}


_WARM_UP_CELL = "print(' ', end='')"


def warm_up(shell, plot):
    """Runs a cell that leaves no trace, so that the pages a cell touches are in memory before a user's cell.

    A restored sandbox maps its memory back page by page on first touch: without this, the first cell after a
    restore took 50 to 80 ms longer than the next. The cell stores no history, keeps the execution count, and
    its output is consumed by the kernel with the restore's reply. With plot, an off-screen figure then does the
    same for a first plot (a pooled call that plots: 310 to 255 ms); that costs about 0.4 CPU-s, as much as the
    first plot it spares, so it is for kernels no client waits on yet (the gateway's pool).
    """
    global _executing
    _executing = True
    try:
        shell.execute({"code": _WARM_UP_CELL, "store_history": False, "silent": False})
    except Exception as e:
        _log("warm-up cell failed: %s: %s" % (type(e).__name__, e))
    finally:
        _executing = False
    flush_streams()
    if plot:
        warm_matplotlib(shell)


# --- main loop ---------------------------------------------------------------------------------------

def main():
    global _executing, _current_seq
    sys.stdout = STDOUT
    sys.stderr = STDERR
    captures = Captures([FdCapture(1, STDOUT), FdCapture(2, STDERR)])
    threading.Thread(target=_flusher, name="flusher", daemon=True).start()
    signal.signal(signal.SIGINT, _on_sigint)
    if "" not in sys.path:
        sys.path.insert(0, "")
    if "MPLBACKEND" not in os.environ:
        import importlib.util
        inline = importlib.util.find_spec("matplotlib_inline") is not None
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline" if inline else "Agg"
    language = os.environ.get("SANDCELL_LANGUAGE", "python")
    phases = {}  # what the driver's start took, for the kernel's log
    mark = _T0

    def phase(name):
        nonlocal mark
        now = time.monotonic()
        phases[name] = round((now - mark) * 1000)
        mark = now

    phase("interpreter")
    if language == "bash":
        shell = BashShell()
    else:
        try:
            shell = make_ipython_shell()
        except ImportError as e:
            _log("IPython not available (%s); using the plain shell" % e)
            shell = PlainShell()
    phase("shell")
    preload = [m.strip() for m in os.environ.get("SANDCELL_PRELOAD", "").split(",") if m.strip()]
    if language == "bash":
        preload = []
    failed = []
    for module in preload:
        try:
            __import__(module)
        except Exception as e:  # a missing library must not stop the kernel
            failed.append("%s: %s" % (module, e))
    phase("preload")
    tune_modules()
    phase("fonts")
    warm_matplotlib(shell)
    phase("plot")
    warm_dataframe(shell)
    phase("dataframe")
    warm_traceback(shell)
    phase("traceback")
    flush_streams()
    send({"ev": "ready", "implementation": shell.implementation, "python_version": sys.version.split()[0],
          "language_version": getattr(shell, "version", "") or sys.version.split()[0],
          "preloaded": preload, "preload_errors": failed, "startup_ms": phases,
          "execution_count": shell.execution_count()})

    ops = {"complete": shell.complete, "inspect": shell.inspect, "is_complete": shell.is_complete}
    while True:
        try:
            req = read_request()
        except KeyboardInterrupt:
            continue
        if req is None:
            return
        _current_seq = req.get("seq")
        op = req.get("op")
        try:
            if op == "execute":
                _install_input(bool(req.get("allow_stdin")))
                _executing = True
                try:
                    reply = shell.execute(req)
                finally:
                    _executing = False
                captures.sync()
                flush_streams()
                tune_modules()
            elif op == "ping":
                reply = {"status": "ok"}
            elif op == "restored":
                reply = restored(req, shell)
            elif op in ops:
                reply = ops[op](req)
            else:
                reply = {"status": "error", "ename": "ProtocolError", "evalue": "unknown op %r" % (op,),
                         "traceback": []}
        except KeyboardInterrupt:
            _executing = False
            flush_streams()
            reply = {"status": "error", "ename": "KeyboardInterrupt", "evalue": "", "traceback": [],
                     "execution_count": shell.execution_count()}
        except Exception as e:
            _executing = False
            _log("op %r failed: %s" % (op, traceback.format_exc()))
            reply = {"status": "error", "ename": type(e).__name__, "evalue": str(e),
                     "traceback": traceback.format_exception(type(e), e, e.__traceback__)}
        reply["ev"] = "reply"
        reply["seq"] = _current_seq  # the kernel takes only the reply that names its request
        reply["next_execution_count"] = shell.execution_count()
        send(reply)


if __name__ == "__main__":
    main()
