"""Egress mode from inside real sandboxes, through the real gateway's tool server. Run by EgressIT.

The test host provides an "outside" network: a web server at 203.0.113.10:8080 (also answering on a private
address, 10.199.0.53, and on the cloud metadata address 169.254.169.254) and a DNS server at 10.199.0.53 that
resolves *.example.test to 203.0.113.10. The gateway listens on every host address.

Usage: egress.py BASE_URL TOKEN GATEWAY_PORT HOST_ADDRS DATA_DIR
Prints "PASS <case>" per case that held, "FAIL <case>: why" otherwise, and exits 1 if any failed.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from casebook import case, finish

BASE, TOKEN, PORT, HOST_ADDRS, DATA_DIR = sys.argv[1:6]
BASE = BASE.rstrip("/") + "/"
PORT = int(PORT)
HOST_ADDRS = [a for a in HOST_ADDRS.split(",") if a]


def py(code, chat):
    req = urllib.request.Request(BASE + "tools/execute_python", data=json.dumps({"code": code}).encode(),
                                 headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json",
                                          "X-OpenWebUI-Chat-Id": chat, "X-OpenWebUI-User-Id": "user-" + chat})
    with urllib.request.urlopen(req, timeout=120) as r:
        out = json.loads(r.read())
    assert out["status"] == "ok", out
    return out["stdout"]


PROBE = r'''
import errno, socket
def probe(host, port, timeout=10):
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return "open"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
def my_address():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.connect(("203.0.113.10", 9))
    return u.getsockname()[0]
'''


def netns():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return sorted(l.split()[0] for l in out.splitlines() if l.startswith("sandcell-"))


@case("egress: a name resolves through the configured DNS server and a web download works")
def download():
    out = py("import urllib.request, socket\n"
             "print(socket.gethostbyname('files.example.test'))\n"
             "print(urllib.request.urlopen('http://files.example.test:8080/hello.txt', timeout=20).read().decode())",
             "a")
    assert out.splitlines()[:2] == ["203.0.113.10", "hello from outside"], out


@case("the cloud metadata address is unreachable, and fails at once rather than hanging")
def metadata():
    out = py(PROBE + "print(probe('169.254.169.254', 8080)); print(probe('169.254.169.254', 80))", "a")
    results = out.split()
    assert all(r in ("EHOSTUNREACH", "ECONNREFUSED", "ENETUNREACH", "EACCES") for r in results), out


@case("private addresses are unreachable except the DNS server's port 53")
def private():
    out = py(PROBE + "print(probe('10.199.0.53', 8080)); print(probe('10.199.0.53', 53))\n"
             "print(probe('192.168.1.1', 80, 3), probe('172.16.0.1', 80, 3))", "a")
    lines = out.splitlines()
    assert lines[0] != "open", out
    assert lines[1] in ("ECONNREFUSED", "open"), ("TCP 53 to the resolver is allowed, and answered", out)
    assert "open" not in lines[2], out


@case("the host is unreachable on every address, the gateway's port included")
def host():
    targets = HOST_ADDRS + ["GATEWAY"]
    code = PROBE + ("import ipaddress\n"
                    "gw = str(ipaddress.ip_address(my_address()) - 1)\n"
                    "for h in %r:\n"
                    "    h = gw if h == 'GATEWAY' else h\n"
                    "    print(h, probe(h, %d), probe(h, 22, 3))\n" % (targets, PORT))
    out = py(code, "a")
    lines = out.splitlines()
    assert len(lines) == len(targets), out
    for l in lines:
        assert "open" not in l, out
    # the same ports answer from the host itself: the firewall, not a missing server, stopped the sandbox
    for h in HOST_ADDRS:
        with urllib.request.urlopen("http://%s:%d/api" % (h, PORT), timeout=10) as r:
            assert r.status == 200


@case("two egress sandboxes cannot reach each other")
def neighbours():
    addr_b = py(PROBE + "import socket, threading\n"
                "srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                "srv.bind(('0.0.0.0', 9000)); srv.listen(8)\n"
                "def serve():\n"
                "    while True:\n"
                "        c, _ = srv.accept(); c.sendall(b'hi'); c.close()\n"
                "threading.Thread(target=serve, daemon=True).start()\n"
                "print(my_address())", "b").strip()
    own = py(PROBE + "print(probe(%r, 9000))" % addr_b, "b").strip()
    assert own == "open", ("the listener works for its own sandbox", own)
    other = py(PROBE + "print(my_address(), probe(%r, 9000))" % addr_b, "a").split()
    assert other[0] != addr_b and other[1] != "open", other


@case("no raw sockets and no address changes inside")
def raw():
    out = py("import socket\n"
             "try:\n"
             "    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); print('raw open')\n"
             "except OSError as e: print('raw denied', e.errno)\n"
             "import subprocess\n"
             "r = subprocess.run(['/usr/sbin/ip', 'addr', 'add', '203.0.113.99/24', 'dev', 'eth0'], capture_output=True)\n"
             "print('ip', 'changed' if r.returncode == 0 else 'denied')", "a")
    assert "raw denied" in out and "ip denied" in out, out


@case("a killed kernel's network is reclaimed when the next sandbox starts, and egress works again")
def reclaim():
    before = netns()
    assert len(before) == 2, before
    killed = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % pid, "rb").read().decode(errors="replace")
        except OSError:
            continue
        if "io.sandcell.kernel.KernelMain" in cmd and DATA_DIR in cmd:
            os.kill(int(pid), signal.SIGKILL)
            killed += 1
    assert killed == 2, killed
    time.sleep(2)
    assert netns() == before, ("a SIGKILLed kernel cannot clean up; its namespaces stay until reclaimed", netns())
    out = ""
    for _ in range(3):
        try:
            out = py("import urllib.request\n"
                     "print(urllib.request.urlopen('http://files.example.test:8080/hello.txt', timeout=20).read().decode())",
                     "a")
            break
        except AssertionError as e:
            out = str(e)  # the first call after the kill may report the dead kernel
    assert "hello from outside" in out, out
    after = netns()
    assert len(after) == 1 and not set(after) & set(before), (before, after)


finish()
