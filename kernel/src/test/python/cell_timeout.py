"""The kernel's per-cell wall-clock limit, through jupyter_client, with a kernelspec set to --cell-timeout 3.

Prints "PASS <name>" per check; exits non-zero on the first failure.
"""
import sys
import time

from client_e2e import check, of, run, stdout, with_kernel


def stderr(msgs):
    return "".join(m["content"]["text"] for m in of(msgs, "stream") if m["content"]["name"] == "stderr")


def checks(km, kc):
    def interrupted():
        run(kc, "state = 'kept'")
        started = time.time()
        reply, msgs = run(kc, "import time\nprint('sleeping', flush=True)\ntime.sleep(60)")
        took = time.time() - started
        assert reply["content"]["ename"] == "KeyboardInterrupt", reply["content"]
        assert "wall-clock limit of 3 s" in stderr(msgs), msgs
        assert 2.5 < took < 8, took
        reply, msgs = run(kc, "print(state)")
        assert stdout(msgs) == "kept\n", msgs
    check("a cell past the limit is interrupted and the kernel keeps its state", interrupted)

    def killed():
        started = time.time()
        reply, msgs = run(kc, "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                              "time.sleep(60)")
        took = time.time() - started
        c = reply["content"]
        assert c["ename"] == "SandboxDied" and "wall-clock limit of 3 s" in c["evalue"], c
        assert took < 15, took
        km.restart_kernel(now=False)
        kc.wait_for_ready(timeout=120)
        reply, msgs = run(kc, "print('fresh')")
        assert stdout(msgs) == "fresh\n", msgs
    check("a cell that ignores the interrupt has its sandbox killed, reported, and a restart works", killed)


if __name__ == "__main__":
    with_kernel(sys.argv[1], checks)
