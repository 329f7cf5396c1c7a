"""End-to-end checks of the sandboxed kernel through Debian's jupyter_client (a real Jupyter client).

Run by KernelClientsIT with JUPYTER_PATH pointing at an installed sandcell-python kernelspec.
Each check asserts; the script prints "PASS <name>" per check and exits non-zero on the first failure.
"""
import json
import os
import queue
import subprocess
import sys
import time

import zmq
from jupyter_client import KernelManager

KERNEL = os.environ.get("SANDCELL_KERNEL_NAME", "sandcell-python")


def collect(kc, msg_id, timeout=60):
    """All iopub messages of one request, up to its idle status."""
    out = []
    deadline = time.time() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        out.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return out


def run(kc, code, timeout=60, **kw):
    msg_id = kc.execute(code, **kw)
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    return reply, collect(kc, msg_id, timeout)


def of(msgs, kind):
    return [m for m in msgs if m["msg_type"] == kind]


def stdout(msgs):
    return "".join(m["content"]["text"] for m in of(msgs, "stream") if m["content"]["name"] == "stdout")


def check(name, fn):
    fn()
    print("PASS", name, flush=True)


def with_kernel(kernel_name, fn):
    """Starts the kernel, runs fn(km, kc), and shuts the kernel down however fn ends; returns the manager."""
    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    try:
        fn(km, kc)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    return km


def main():
    km = with_kernel(KERNEL, checks)
    assert not km.is_alive(), "kernel process still alive after shutdown"
    print("PASS shutdown", flush=True)


def checks(km, kc):
    def kernel_info():
        msg_id = kc.kernel_info()
        reply = kc.get_shell_msg(timeout=30)
        c = reply["content"]
        assert c["status"] == "ok", c
        assert c["protocol_version"].startswith("5."), c
        assert c["language_info"]["name"] == "python", c
        assert "sandbox" in c and c["sandbox"]["limits"]["network"] == "none", c
        collect(kc, msg_id)
    check("kernel_info", kernel_info)

    def execute_basics():
        reply, msgs = run(kc, "print('hello'); x = 41")
        assert reply["content"]["status"] == "ok", reply
        assert stdout(msgs) == "hello\n", msgs
        types = [m["msg_type"] for m in msgs]
        assert types[0] == "status" and types[-1] == "status", types
        assert "execute_input" in types, types
        reply, msgs = run(kc, "x + 1")
        res = of(msgs, "execute_result")
        assert res and res[0]["content"]["data"]["text/plain"] == "42", msgs
        assert reply["content"]["execution_count"] == res[0]["content"]["execution_count"]
    check("execute, stream, execute_result, state across cells", execute_basics)

    def execute_input_counts():
        # execute_input is published by the kernel from the count the driver reported with its last reply:
        # it must be the count the cell runs with, whatever ran before it
        def counted(code, **kw):
            reply, msgs = run(kc, code, **kw)
            types = [m["msg_type"] for m in msgs]
            inputs = of(msgs, "execute_input")
            assert types[:2] == ["status", "execute_input"], types
            assert inputs[0]["content"]["code"] == code, inputs
            return inputs[0]["content"]["execution_count"], reply["content"]["execution_count"]
        first, replied = counted("print('a')")
        assert first == replied, (first, replied)
        counted("1/0")  # an error still counts
        after_error, replied = counted("y = 1")
        assert after_error == first + 2 == replied, (first, after_error, replied)
        reply, msgs = run(kc, "z = 2", silent=True)
        assert not of(msgs, "execute_input"), msgs
        unstored, _ = counted("z = 3", store_history=False)
        assert unstored == after_error + 1, (after_error, unstored)
        again, _ = counted("get_ipython().execution_count = 100")  # a cell may move the count
        assert again == after_error + 1, (after_error, again)
        moved, replied = counted("z")
        assert moved >= 100 and moved == replied, (moved, replied)
    check("execute_input carries the count the cell runs with", execute_input_counts)

    def errors():
        reply, msgs = run(kc, "1/0")
        c = reply["content"]
        assert c["status"] == "error" and c["ename"] == "ZeroDivisionError", c
        err = of(msgs, "error")
        assert err and err[0]["content"]["traceback"], msgs
    check("error with ename, evalue and traceback", errors)

    def rich():
        reply, msgs = run(kc, "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\ndisplay(df)\ndf")
        assert of(msgs, "display_data")[0]["content"]["data"]["text/html"].startswith("<div"), msgs
        assert "text/html" in of(msgs, "execute_result")[0]["content"]["data"], msgs
        reply, msgs = run(kc, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()")
        pngs = [m for m in of(msgs, "display_data") if "image/png" in m["content"]["data"]]
        assert len(pngs) == 1, msgs
        b64 = pngs[0]["content"]["data"]["image/png"]
        assert "\n" not in b64 and b64.startswith("iVBOR"), b64[:20]
        reply, msgs = run(kc, "plt.plot([3, 2, 1]);")
        assert [m for m in of(msgs, "display_data") if "image/png" in m["content"]["data"]], \
            "a figure without plt.show() must be displayed too"
        reply, msgs = run(kc, "import matplotlib.font_manager as fm\nprint(fm._sandcell_fonts)\n"
                              "plt.plot([1]); plt.savefig('/tmp/f.pdf'); plt.close('all')\n"
                              "print(open('/tmp/f.pdf', 'rb').read(5))")
        assert stdout(msgs) == "True\nb'%PDF-'\n", "fonts come from memory once matplotlib is imported: %r" % msgs
        reply, msgs = run(kc, "from IPython.display import Markdown, Latex, SVG, display, update_display\n"
                              "h = display('one', display_id=True)\nh.update('two')\n"
                              "display(Markdown('**m**'), Latex('$x$'))")
        assert of(msgs, "update_display_data"), msgs
        mimes = set()
        for m in of(msgs, "display_data"):
            mimes.update(m["content"]["data"])
        assert {"text/markdown", "text/latex"} <= mimes, mimes
        reply, msgs = run(kc, "from IPython.display import clear_output\nprint('a')\nclear_output()")
        assert of(msgs, "clear_output"), msgs
    check("display_data, DataFrame html, matplotlib png, markdown, latex, update, clear_output", rich)

    def shell_and_magics():
        reply, msgs = run(kc, "!echo from-shell && pwd")
        assert stdout(msgs) == "from-shell\n/mnt/data\n", stdout(msgs)
        reply, msgs = run(kc, "%time y = sum(range(10))\nimport os; os.system('echo from-fd')")
        assert "Wall time" in stdout(msgs) and "from-fd" in stdout(msgs), stdout(msgs)
    check("!cmd, %magics and fd-level output", shell_and_magics)

    def stdin_input():
        msg_id = kc.execute("name = input('who? ')\nprint('hi', name)", allow_stdin=True)
        req = kc.get_stdin_msg(timeout=30)
        assert req["msg_type"] == "input_request" and req["content"]["prompt"] == "who? ", req
        kc.input("sandbox")
        msgs = collect(kc, msg_id)
        assert stdout(msgs) == "hi sandbox\n", msgs
        reply, msgs = run(kc, "input()", allow_stdin=False)
        assert reply["content"]["status"] == "error", reply
        assert "StdinNotImplementedError" in reply["content"]["ename"], reply
    check("input() over stdin, and refused when stdin is not allowed", stdin_input)

    def introspection():
        c = kc.complete("import o", 8, reply=True, timeout=30)["content"]
        assert c["status"] == "ok" and "os" in c["matches"], c
        kc.is_complete("for i in range(3):")
        c = kc.get_shell_msg(timeout=30)["content"]
        assert c["status"] == "incomplete", c
        kc.is_complete("x = 1")
        c = kc.get_shell_msg(timeout=30)["content"]
        assert c["status"] == "complete", c
        c = kc.inspect("len", 3, reply=True, timeout=30)["content"]
        assert c["status"] == "ok" and c["found"], c
        c = kc.history(reply=True, timeout=30)["content"]
        assert c["status"] == "ok" and isinstance(c["history"], list), c
        kc.shell_channel.send(kc.session.msg("comm_info_request", {}))
        c = kc.get_shell_msg(timeout=30)["content"]
        assert c["status"] == "ok" and c["comms"] == {}, c
    check("complete, is_complete, inspect, history, comm_info", introspection)

    def unknown_and_forged():
        kc.shell_channel.send(kc.session.msg("no_such_request", {}))
        reply = kc.get_shell_msg(timeout=30)
        assert reply["msg_type"] == "no_such_reply" and reply["content"]["status"] == "error", reply
        # a message with a forged signature is dropped, and the kernel keeps working
        ctx = zmq.Context.instance()
        raw = ctx.socket(zmq.DEALER)
        raw.connect("tcp://127.0.0.1:%d" % km.shell_port)
        header = json.dumps({"msg_id": "forged", "msg_type": "execute_request", "session": "x",
                             "username": "u", "date": "", "version": "5.3"}).encode()
        content = json.dumps({"code": "import os; os.system('touch /mnt/data/forged')"}).encode()
        raw.send_multipart([b"<IDS|MSG>", b"0" * 64, header, b"{}", b"{}", content])
        raw.send_multipart([b"garbage"])
        raw.send_multipart([b"<IDS|MSG>"])
        raw.close(0)
        # replaying a correctly signed message is rejected too
        msg = kc.session.msg("execute_request", {"code": "counter = globals().get('counter', 0) + 1",
                                                  "silent": False, "store_history": True,
                                                  "user_expressions": {}, "allow_stdin": False})
        kc.session.send(kc.shell_channel.socket, msg)
        kc.get_shell_msg(timeout=30)
        sock = ctx.socket(zmq.DEALER)
        sock.connect("tcp://127.0.0.1:%d" % km.shell_port)
        frames = kc.session.serialize(msg)
        sock.send_multipart(frames)
        sock.close(0)
        reply, msgs = run(kc, "import os; print(counter, os.path.exists('/mnt/data/forged'))")
        assert stdout(msgs) == "1 False\n", stdout(msgs)
    check("unknown requests answered; forged, malformed and replayed messages dropped", unknown_and_forged)

    def interrupt():
        msg_id = kc.execute("keep = 'kept'\nwhile True: pass")
        time.sleep(1.0)
        t0 = time.time()
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=10)
        elapsed = time.time() - t0
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt", reply
        assert elapsed < 1.0, "interrupt took %.2f s" % elapsed
        collect(kc, msg_id)
        reply, msgs = run(kc, "print(keep, x)")
        assert stdout(msgs) == "kept 41\n", msgs
    check("interrupt raises KeyboardInterrupt within a second and keeps state", interrupt)

    def heartbeat():
        assert kc.hb_channel.is_beating()
    check("heartbeat", heartbeat)

    def external_kill():
        msg_id = kc.execute("import time\nwhile True: time.sleep(0.1)")
        time.sleep(1.0)
        root = os.path.join(os.environ["SANDCELL_DATA_DIR"], "kernels")
        killed = []
        for kernel in os.listdir(root):
            state = os.path.join(root, kernel, "runsc")
            listing = json.loads(subprocess.run(["runsc", "--root=" + state, "list", "--format=json"],
                                                capture_output=True, text=True, check=True).stdout or "[]")
            for c in listing or []:
                if c["status"] == "running":
                    subprocess.run(["runsc", "--root=" + state, "kill", c["id"], "KILL"], check=True)
                    killed.append(c["id"])
        assert killed, "no running sandbox found"
        reply = kc.get_shell_msg(timeout=30)
        c = reply["content"]
        assert c["status"] == "error" and c["ename"] == "SandboxDied", c
        assert "kill" in c["evalue"].lower(), c["evalue"]
        msgs = collect(kc, msg_id)
        assert of(msgs, "error"), msgs
        reply, msgs = run(kc, "1 + 1")
        assert reply["content"]["status"] == "error" and "restart" in reply["content"]["evalue"], reply
        km.restart_kernel(now=False)
        kc.wait_for_ready(timeout=120)
        reply, msgs = run(kc, "print('fresh', 'x' in globals())")
        assert stdout(msgs) == "fresh False\n", msgs
    check("a sandbox killed from outside is reported, and a restart gives a working one", external_kill)


if __name__ == "__main__":
    main()
