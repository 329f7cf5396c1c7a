"""Isolation checks run from inside a cell of the sandboxed kernel, through jupyter_client.

argv[1] is a host path that must stay invisible (the project's own directory). Prints PASS per check.
"""
import os
import sys

from jupyter_client.manager import start_new_kernel

KERNEL = os.environ.get("SANDCELL_KERNEL_NAME", "sandcell-python")
PROJECT = sys.argv[1]

PROBE = r'''
import os, socket, subprocess, json
r = {}
def attempt(fn):
    try:
        fn()
        return "ok"
    except Exception as e:
        return type(e).__name__
r["root"] = attempt(lambda: os.listdir("/root"))
r["shadow"] = attempt(lambda: open("/etc/shadow").read())
r["project"] = attempt(lambda: os.listdir(PROJECT))
r["home"] = attempt(lambda: os.listdir("/home"))
r["proc1_environ"] = attempt(lambda: open("/proc/1/environ").read())
r["etc_entries"] = sorted(os.listdir("/etc"))
r["top"] = sorted(os.listdir("/"))
writes = {}
for d in ["/", "/usr", "/usr/lib", "/etc", "/opt/sandcell", "/var", "/bin", "/tmp", "/mnt/data", "/dev/shm"]:
    writes[d] = attempt(lambda: open(os.path.join(d, "probe-write"), "w").write("x"))
r["writes"] = writes
r["mkdir_root"] = attempt(lambda: os.mkdir("/newdir"))
def connect(host, port):
    s = socket.socket(); s.settimeout(3)
    try:
        s.connect((host, port))
    finally:
        s.close()
r["outbound_ip"] = attempt(lambda: connect("1.1.1.1", 80))
r["outbound_dns"] = attempt(lambda: socket.getaddrinfo("deb.debian.org", 80))
r["host_loopback_ssh"] = attempt(lambda: connect("127.0.0.1", 22))
r["uname"] = os.uname().release
r["uid"] = os.getuid()
r["caps"] = [l for l in open("/proc/self/status") if l.startswith("Cap")]
r["ifaces"] = sorted(os.listdir("/sys/class/net")) if os.path.isdir("/sys/class/net") else []
r["setuid0"] = attempt(lambda: os.setuid(0))
r["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print(json.dumps(r))
'''.replace("PROJECT", repr(PROJECT))


def main():
    km, kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=120)
    try:
        out = []
        reply = kc.execute_interactive(PROBE, timeout=60, output_hook=lambda m: out.append(m))
        assert reply["content"]["status"] == "ok", reply
        text = "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream"
                       and m["content"]["name"] == "stdout")
        import json
        r = json.loads(text)
        print(json.dumps(r, indent=1), file=sys.stderr)
        for key in ("root", "shadow", "project", "home"):
            assert r[key] in ("FileNotFoundError", "PermissionError"), (key, r[key])
        print("PASS host files invisible: /root, /etc/shadow, /home and the project directory")
        assert "shadow" not in r["etc_entries"] and "passwd" in r["etc_entries"], r["etc_entries"]
        assert set(r["top"]) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "mnt", "opt", "proc",
                                 "sbin", "sys", "tmp", "usr"}, r["top"]
        print("PASS only the listed directories exist; /etc is generated")
        for d, res in r["writes"].items():
            if d in ("/tmp", "/mnt/data", "/dev/shm"):
                assert res == "ok", (d, res)
            else:
                assert res != "ok", (d, res)
        assert r["mkdir_root"] != "ok"
        print("PASS writes succeed only in /tmp, /dev/shm and /mnt/data")
        assert r["outbound_ip"] != "ok" and r["outbound_dns"] != "ok", r
        assert r["host_loopback_ssh"] != "ok", r
        assert r["ifaces"] in ([], ["lo"]), r["ifaces"]
        print("PASS no network: outbound connections and DNS fail; loopback is the sandbox's own")
        assert r["uname"] == "4.4.0", r["uname"]
        print("PASS uname -r shows gVisor's kernel")
        assert r["uid"] == 61000 and r["setuid0"] != "ok", r
        assert all(line.split()[1] == "0000000000000000" for line in r["caps"]), r["caps"]
        print("PASS non-root uid without capabilities")
        assert r["pids"] == [1] or max(r["pids"]) < 20, r["pids"]
        print("PASS only the sandbox's own processes are visible")
        assert not os.path.exists(os.path.join(PROJECT, "probe-write"))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


if __name__ == "__main__":
    main()
