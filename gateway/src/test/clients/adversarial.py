"""The adversarial suite: attacks from inside a cell, run in real sandboxes through the real gateway.

Each case runs code through the tool server (a chat per attacker) and asserts that the host, the gateway and
the other kernels are unharmed and that the attacked kernel survives, or is reported dead and works again
on the next call. Run by AdversarialIT.

Usage: adversarial.py BASE_URL TOKEN DATA_DIR HOST_SECRET_FILE
Prints "PASS <case>" per case that held, "FAIL <case>: why" otherwise, and exits 1 if any failed.
"""
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from casebook import case, finish

BASE, TOKEN, DATA_DIR, SECRET_FILE = sys.argv[1:5]
BASE = BASE.rstrip("/") + "/"
PORT = urllib.parse.urlparse(BASE).port


def call(tool, code, chat, timeout=120):
    arg = "code" if tool == "python" else "command"
    req = urllib.request.Request(BASE + "tools/execute_" + tool, data=json.dumps({arg: code}).encode(),
                                 headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json",
                                          "X-OpenWebUI-Chat-Id": chat, "X-OpenWebUI-User-Id": "attacker-" + chat})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def py(code, chat="attacker"):
    return call("python", code, chat)


def sh(command, chat="attacker"):
    return call("bash", command, chat)


def alive(chat="attacker"):
    r = py("print(6 * 7)", chat)
    assert r["status"] == "ok" and r["stdout"] == "42\n", ("the kernel does not answer after the attack", r)


def once_back(code, chat):
    """Runs code in a chat whose sandbox died, once a fresh one answers (within 60 s); returns the last result."""
    deadline = time.time() + 60
    while True:
        r = py(code, chat=chat)
        if r["status"] == "ok" or time.time() > deadline:
            return r
        time.sleep(1)


def expect_errors(code, chat="attacker"):
    """Runs code that prints one line per attempt: 'ok <what>' if it worked, 'denied <what>' otherwise."""
    r = py(code, chat)
    assert r["status"] == "ok", r
    lines = [l for l in r["stdout"].splitlines() if l]
    assert lines and all(l.startswith("denied ") for l in lines), r["stdout"]
    return lines


HOST_SECRET = open(SECRET_FILE).read().strip()


@case("reading host secrets: /root, /etc/shadow, the gateway's token, config and data, /proc/1/environ")
def host_secrets():
    code = r'''
import os, glob
def attempt(what, fn):
    try:
        got = fn()
    except OSError as e:
        print("denied", what, type(e).__name__); return
    leak = any(s in str(got) for s in SECRETS)
    print(("ok " if leak else "denied ") + what)
SECRETS = [%r, %r]
attempt("/root", lambda: os.listdir("/root"))
attempt("/etc/shadow", lambda: open("/etc/shadow").read())
attempt("host secret file", lambda: open(%r).read())
attempt("gateway data dir", lambda: os.listdir(%r))
attempt("/proc/1/environ", lambda: open("/proc/1/environ", "rb").read())
for p in glob.glob("/proc/[0-9]*"):
    attempt(p + "/environ+cmdline", lambda p=p: open(p + "/environ", "rb").read() + open(p + "/cmdline", "rb").read())
attempt("/etc (generated)", lambda: "".join(open(os.path.join("/etc", f), errors="replace").read()
        for f in os.listdir("/etc") if os.path.isfile(os.path.join("/etc", f))))
attempt("runsc state", lambda: os.listdir("/run/runsc") + os.listdir("/var/run"))
''' % (TOKEN, HOST_SECRET, SECRET_FILE, DATA_DIR)
    r = py(code)
    assert r["status"] == "ok", r
    lines = [l for l in r["stdout"].splitlines() if l]
    assert len(lines) >= 7 and all(l.startswith("denied") for l in lines), r["stdout"]
    assert TOKEN not in json.dumps(r) and HOST_SECRET not in json.dumps(r)


@case("reading another kernel's workspace and seeing its processes")
def other_kernels():
    sh("echo victim-data > /mnt/data/victim-marker.txt; (sleep 987 &) ; echo started", chat="victim")
    r = sh("find / -xdev -name 'victim-marker*' 2>/dev/null | head; ls /proc | grep -c '^[0-9]'; "
           "ps -eo args 2>/dev/null | grep -c 'sleep 987' || true")
    out = r["stdout"].split()
    assert "victim-marker" not in r["stdout"], r
    assert int(out[0]) < 20, ("too many processes visible", r)
    assert out[1] == "0" or out[1] == "1", r  # 1 is the grep itself
    r = sh("cat /mnt/data/victim-marker.txt", chat="victim")
    assert r["stdout"] == "victim-data\n", r


@case("writing outside the allowed directories (/, /usr, /etc, /opt, /proc/sys, /sys)")
def write_outside():
    expect_errors(r'''
for path in ["/x", "/usr/x", "/usr/bin/python3", "/etc/passwd", "/etc/x", "/opt/sandcell/driver.py", "/bin/x",
             "/proc/sys/kernel/hostname", "/sys/kernel/x", "/dev/x"]:
    try:
        with open(path, "a") as f:
            f.write("pwned")
        print("ok", path)
    except OSError as e:
        print("denied", path, e.errno)
''')


@case("setuid and capabilities: root, setuid binaries, CapEff")
def setuid():
    expect_errors(r'''
import os, subprocess
def attempt(what, fn):
    try:
        fn(); print("ok", what)
    except Exception as e:
        print("denied", what, type(e).__name__)
attempt("setuid(0)", lambda: os.setuid(0))
attempt("setgid(0)", lambda: os.setgid(0))
def capeff():
    caps = [l for l in open("/proc/self/status") if l.startswith("CapEff")][0].split()[1]
    if int(caps, 16) != 0: return
    raise PermissionError("no capabilities")
attempt("capabilities", capeff)
def su():
    out = subprocess.run(["sh", "-c", "su -c id root </dev/null; sudo id </dev/null"], capture_output=True, text=True)
    if "uid=0" in out.stdout: return
    raise PermissionError(out.stderr[:80])
attempt("su/sudo", su)
''')


@case("ptrace, mount, kernel modules, raw sockets, chroot, unshare")
def privileged_syscalls():
    expect_errors(r'''
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def sys_attempt(what, rc):
    print(("denied " if rc != 0 else "ok ") + what, ctypes.get_errno())
sys_attempt("ptrace attach to pid 1", libc.ptrace(16, 1, None, None))
sys_attempt("mount tmpfs", libc.mount(b"none", b"/mnt/data", b"tmpfs", 0, None))
sys_attempt("init_module", libc.syscall(175, None, 0, b""))
sys_attempt("finit_module", libc.syscall(313, -1, b"", 0))
sys_attempt("chroot", libc.chroot(b"/tmp"))
sys_attempt("unshare user+mount", libc.unshare(0x10000000 | 0x00020000))
sys_attempt("reboot", libc.reboot(0x1234567))
for fam, kind, proto, what in [(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP, "raw ICMP socket"),
                               (socket.AF_PACKET, socket.SOCK_RAW, 0, "packet socket")]:
    try:
        socket.socket(fam, kind, proto).close(); print("ok", what)
    except OSError as e:
        print("denied", what, e.errno)
''')


@case("network: the gateway's port, host loopback, the metadata address, the internet, DNS")
def network():
    expect_errors(r'''
import socket
targets = [("127.0.0.1", %d, "gateway port on loopback"), ("127.0.0.1", 22, "host ssh on loopback"),
           ("169.254.169.254", 80, "cloud metadata"), ("1.1.1.1", 53, "internet"), ("10.0.2.2", 80, "host gateway"),
           ("::1", %d, "gateway port on ::1")]
for host, port, what in targets:
    try:
        s = socket.create_connection((host, port), timeout=3); s.close(); print("ok", what)
    except OSError as e:
        print("denied", what, e.errno)
try:
    socket.getaddrinfo("example.com", 80); print("ok dns")
except OSError as e:
    print("denied dns", e.errno)
''' % (PORT, PORT))


@case("a fork bomb gets EAGAIN and the kernel survives")
def fork_bomb():
    r = py(r'''
import os, time
pids = []
try:
    while True:
        pid = os.fork()
        if pid == 0:
            time.sleep(30); os._exit(0)
        pids.append(pid)
except OSError as e:
    print("stopped after", len(pids), "forks:", e.errno)
for p in pids:
    os.kill(p, 9); os.waitpid(p, 0)
''')
    assert "stopped after" in r["stdout"] and ": 11" in r["stdout"], r
    n = int(r["stdout"].split()[2])
    assert n < 200, r
    alive()


@case("a thread bomb fails to start threads and the kernel survives")
def thread_bomb():
    r = py(r'''
import threading, time
ev = threading.Event(); n = 0
try:
    while True:
        threading.Thread(target=ev.wait, daemon=True).start(); n += 1
except RuntimeError as e:
    print("stopped after", n, "threads:", e)
ev.set()
''')
    assert "stopped after" in r["stdout"], r
    alive()


@case("a memory bomb raises MemoryError and the kernel survives")
def memory_bomb():
    r = py("try:\n    x = bytearray(8 << 30)\nexcept MemoryError:\n    print('MemoryError')\n")
    assert r["stdout"] == "MemoryError\n", r
    r = py("blocks = []\ntry:\n    while True:\n        blocks.append(bytearray(32 << 20))\n"
           "except MemoryError:\n    n = len(blocks); blocks = None\n    print('MemoryError after', n)\n")
    assert "MemoryError after" in r["stdout"] or "SandboxDied" in r["stderr"], r
    alive()


@case("a disk fill gets ENOSPC in /mnt/data and /tmp, within the quota")
def disk_fill():
    r = py(r'''
import errno, os
for d in ("/mnt/data", "/tmp", "/dev/shm"):
    written = 0
    try:
        with open(os.path.join(d, "fill"), "wb") as f:
            while True:
                f.write(b"\0" * (1 << 20)); f.flush(); written += 1
                if written > 4096: break
    except OSError as e:
        print(d, "stopped at", written, "MiB:", errno.errorcode.get(e.errno))
    os.remove(os.path.join(d, "fill"))
''')
    lines = r["stdout"].splitlines()
    assert len(lines) == 3 and all("ENOSPC" in l or "EFBIG" in l for l in lines), r
    sizes = [int(l.split("stopped at ")[1].split()[0]) for l in lines]
    assert sizes[0] <= 80 and sizes[1] <= 300, sizes  # the test's 64 MiB workspace; 256 MiB /tmp
    alive()


@case("a CPU spin is interrupted at the time limit and the kernel keeps its state")
def cpu_spin():
    py("kept = 'yes'")
    r = py("while True:\n    pass\n")
    assert r["status"] == "timeout", r
    r = py("print(kept)")
    assert r["stdout"] == "yes\n", r


@case("sleeping forever past the time limit")
def sleep_forever():
    r = sh("sleep 100000")
    assert r["status"] == "timeout", r
    r = py("import time\ntime.sleep(10**6)")
    assert r["status"] == "timeout", r
    alive()


@case("infinite output is capped and the gateway answers meanwhile")
def infinite_output():
    result = {}

    def flood():
        result["r"] = py("while True:\n    print('x' * 1000)\n", chat="flooder")
    t = threading.Thread(target=flood)
    t.start()
    time.sleep(1.5)
    started = time.time()
    with urllib.request.urlopen(BASE + "api/status?token=" + TOKEN, timeout=10) as r:
        assert r.status == 200
    assert time.time() - started < 2, time.time() - started
    alive()
    t.join(120)
    r = result["r"]
    assert r["status"] == "timeout" and len(r["stdout"]) < 70_000 and "truncated" in r["stdout"], len(r["stdout"])


@case("one huge output message is dropped with a notice")
def huge_message():
    r = py("import sys\nsys.stdout.write('y' * (48 << 20))\nsys.stdout.flush()\nprint('after')")
    assert "output limit" in r["stdout"] + r["stderr"] or "dropped" in r["stderr"], (r["stderr"][-300:])
    assert len(r["stdout"]) < 70_000, len(r["stdout"])
    alive()


@case("a symlink in /mnt/data to a host file is never read by a gateway endpoint")
def symlink():
    r = py("import os\nos.symlink(%r, '/mnt/data/leak.txt')\nos.symlink('/', '/mnt/data/rootdir')\nNone" % SECRET_FILE)
    assert r["files"] == [], r
    r = sh("cat /mnt/data/leak.txt 2>&1; ls /mnt/data/rootdir/ | head -3")
    assert HOST_SECRET not in r["stdout"], r
    for url in (BASE + "kernelspecs/python3/..%2F..%2F..%2Fetc%2Fpasswd",
                BASE + "tools/files/" + "A" * 43 + "/leak.txt", BASE + "files/leak.txt?token=" + TOKEN):
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                body = resp.read()
                assert HOST_SECRET.encode() not in body, url
        except urllib.error.HTTPError as e:
            assert e.code in (400, 401, 404), (url, e.code)


def kernel_ids():
    req = urllib.request.Request(BASE + "api/kernels", headers={"Authorization": "token " + TOKEN})
    with urllib.request.urlopen(req, timeout=10) as r:
        return [k["id"] for k in json.loads(r.read())]


@case("kill -9 of the sandbox from outside in the middle of a cell: reported, then a fresh sandbox")
def kill_sandbox():
    before = set(kernel_ids())
    py("victim_state = 1", chat="killed")
    kid = (set(kernel_ids()) - before).pop()
    result = {}

    def run():
        result["r"] = py("import time\nprint('running', flush=True)\ntime.sleep(60)", chat="killed")
    t = threading.Thread(target=run)
    t.start()
    time.sleep(2)
    killed = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
        except OSError:
            continue
        if b"boot" in cmd and any(("kernels/" + kid).encode() in a for a in cmd):
            os.kill(int(pid), signal.SIGKILL)
            killed += 1
    assert killed >= 1, "no sandbox process found for kernel " + kid
    t.join(60)
    r = result["r"]
    assert r["status"] == "error" and "SandboxDied" in r["stderr"], r
    r = once_back("print('back', 'victim_state' in dir())", "killed")
    assert r["stdout"] == "back False\n", r
    alive()


LOG_CAP = 1 << 20  # CappedLog.MAX_BYTES: the most any host-side log of a sandbox or kernel holds


def host_logs():
    """Sizes of the files under the data dir that sandboxes and kernels write to: logs and panic reports."""
    sizes = {}
    for root, dirs, files in os.walk(DATA_DIR):
        dirs[:] = [d for d in dirs if d not in ("work", "snapshots", "tool-workspaces", "cds")]
        for f in files:
            if f.endswith((".log", ".panic")):
                try:
                    sizes[os.path.join(root, f)] = os.path.getsize(os.path.join(root, f))
                except OSError:
                    pass
    return sizes


@case("writing to every inherited descriptor grows no host file past its cap")
def descriptor_flood():
    # Left out here: the pipes of fd 4, the driver's protocol output (a line that breaks the protocol kills the
    # sandbox and its logs go with it; a case below writes to it), and of fds 1 and 2, the cell's own output,
    # bounded by the output limits (cases above). Every other descriptor gets 8 MiB.
    r = py(r"""
import os
block = memoryview(b"X" * (1 << 20))


def flood(fd):
    n = 0  # pipes take 64 KiB a write: write until 8 MiB are out, or the descriptor refuses
    try:
        while n < (8 << 20):
            n += os.write(fd, block)
    except OSError:
        pass
    return n


own = {os.readlink("/proc/self/fd/%d" % f) for f in (1, 2, 4)}


def others(d):
    paths = []
    for n in os.listdir(d):
        try:
            if os.readlink(d + "/" + n) not in own:
                paths.append(d + "/" + n)
        except OSError:
            pass
    return paths


wrote = 0
for path in others("/proc/self/fd") + others("/proc/1/fd"):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        continue
    wrote += flood(fd)
    os.close(fd)
for path in others("/proc/self/fd"):
    wrote += flood(int(path.rsplit("/", 1)[1]))
print("wrote", wrote >> 20, "MiB")
""", chat="fds")
    assert r["status"] == "ok" and r["stdout"].startswith("wrote"), (r["status"], r["stdout"][:200])
    # the shell's own descriptors and the driver's; a pipe nobody reads blocks its writer, and opening one
    # whose readers are gone blocks the open itself, so each gets 2 s with the open inside the time limit
    r = sh("own=\"$(readlink /proc/1/fd/1) $(readlink /proc/1/fd/2) $(readlink /proc/1/fd/4)\"; "
           "for f in /proc/$$/fd/* /proc/1/fd/*; do case \" $own \" in *\" $(readlink $f) \"*) continue;; esac; "
           "timeout 2 sh -c 'head -c 8000000 /dev/zero > \"$1\"' _ $f 2>/dev/null & done; wait; echo flooded",
           chat="fds")
    assert "flooded" in r["stdout"], (r["status"], r["stdout"][:200])
    time.sleep(1)
    logs = host_logs()
    assert any("/kernels/" in f for f in logs), "no sandbox log was found to check: %r" % logs
    big = {f: n for f, n in logs.items() if n > LOG_CAP + 4096}
    assert not big, big
    alive("fds")


@case("a panic written to the sandbox's stderr does not fake its cause of death")
def forged_panic():
    py("x = 1", chat="panic")
    r = py("import os\nfor fd in (2, 5):\n    try:\n        os.write(fd, b'panic: runtime error\\n')\n"
           "    except OSError:\n        pass\nos._exit(3)", chat="panic")
    assert r["status"] == "error" and "SandboxDied" in r["stderr"], r
    assert "panicked" not in r["stderr"] and "code 3" in r["stderr"], r["stderr"][-400:]


@case("a protocol line without an end kills only that sandbox, at once, and the next call works")
def endless_line():
    started = time.time()
    # 400 MiB without a newline (a pipe takes 64 KiB a write), then the same on stdout, while nothing else is sent
    r = py("import os\nblock = memoryview(b'A' * (1 << 20))\nfor fd in (4, 1):\n    n = 0\n    try:\n"
           "        while n < (400 << 20):\n            n += os.write(fd, block)\n    except OSError:\n"
           "        pass\n", chat="endless")
    took = time.time() - started
    assert r["status"] == "error" and "longer than" in r["stderr"], r["stderr"][-400:]
    assert took < 30, took
    r = once_back("print('fresh')", "endless")
    assert r["stdout"] == "fresh\n", r


@case("forged replies and input requests do not shift or block later calls")
def forged_events():
    r = py("import os\nos.write(4, b'{\"ev\":\"reply\",\"status\":\"ok\",\"seq\":1}\\n')\n"
           "os.write(4, b'{\"ev\":\"reply\",\"status\":\"ok\"}\\n')\nprint('first')", chat="forger")
    assert r["stdout"] == "first\n", r
    assert py("print('second')", chat="forger")["stdout"] == "second\n"
    started = time.time()
    r = py("import os, time\nos.write(4, b'{\"ev\":\"input_request\",\"prompt\":\"x\",\"password\":false}\\n')\n"
           "time.sleep(0.5)\nprint('after')", chat="forger")
    assert r["stdout"] == "after\n" and time.time() - started < 4, (r, time.time() - started)
    assert py("print('third')", chat="forger")["stdout"] == "third\n"


finish()
