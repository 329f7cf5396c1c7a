"""Checks of the sandboxed Bash kernel through Debian's jupyter_client.

Run by KernelClientsIT with JUPYTER_PATH pointing at an installed sandcell-bash kernelspec. Prints
"PASS <name>" per check and exits non-zero on the first failure.
"""
import threading
import time

from client_e2e import check, of, run, stdout, with_kernel


def stderr(msgs):
    return "".join(m["content"]["text"] for m in of(msgs, "stream") if m["content"]["name"] == "stderr")


def shell_reply(kc, msg_id, timeout=30):
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"]


def main():
    with_kernel("sandcell-bash", checks)


def checks(km, kc):
    def info():
        reply = kc.kernel_info(reply=True, timeout=30)["content"]
        assert reply["language_info"]["name"] == "bash", reply
        assert reply["language_info"]["file_extension"] == ".sh", reply
        assert "Bash" in reply["banner"], reply
    check("kernel_info names bash", info)

    def state():
        reply, msgs = run(kc, "pwd; mkdir -p sub && cd sub; GREETING=hello; f() { echo \"fn $1\"; }")
        assert reply["content"]["status"] == "ok", reply
        assert stdout(msgs) == "/mnt/data\n", msgs
        reply, msgs = run(kc, "pwd; echo $GREETING; f 7; uname -r")
        assert stdout(msgs) == "/mnt/data/sub\nhello\nfn 7\n4.4.0\n", msgs
    check("cwd, variables and functions persist between cells", state)

    def streams():
        reply, msgs = run(kc, "echo out; echo err >&2; cat </dev/stdin; echo done")
        assert "out\n" in stdout(msgs) and "done\n" in stdout(msgs), msgs
        assert "err\n" in stderr(msgs), msgs
    check("stdout and stderr are separate; stdin reads nothing", streams)

    def exit_code():
        reply, msgs = run(kc, "echo before; false")
        c = reply["content"]
        assert c["status"] == "error" and c["ename"] == "ExitCode" and c["evalue"] == "1", c
        assert of(msgs, "error"), msgs
        reply, msgs = run(kc, "echo $GREETING")
        assert reply["content"]["status"] == "ok" and stdout(msgs) == "hello\n", msgs
    check("a failing last command is an error with its exit code", exit_code)

    def interrupt():
        started = time.time()
        threading.Timer(1.0, km.interrupt_kernel).start()
        reply, msgs = run(kc, "sleep 60; echo not-reached")
        c = reply["content"]
        assert c["status"] == "error" and c["ename"] == "KeyboardInterrupt", c
        assert time.time() - started < 10, time.time() - started
        assert "not-reached" not in stdout(msgs), msgs
        threading.Timer(1.0, km.interrupt_kernel).start()
        reply, msgs = run(kc, "while true; do :; done")
        assert reply["content"]["ename"] == "KeyboardInterrupt", reply
        reply, msgs = run(kc, "echo $GREETING; pwd")
        assert stdout(msgs) == "hello\n/mnt/data/sub\n", msgs
    check("interrupt stops sleep and a busy loop; the shell keeps its state", interrupt)

    def exit_shell():
        reply, msgs = run(kc, "exit 3")
        c = reply["content"]
        assert c["status"] == "error" and c["ename"] == "ShellExited" and "status 3" in c["evalue"], c
        reply, msgs = run(kc, "pwd; echo ${GREETING:-unset}")
        assert stdout(msgs) == "/mnt/data\nunset\n", msgs
    check("exit restarts the shell and says so", exit_shell)

    def introspection():
        run(kc, "MYVAR=1")
        reply = kc.complete("ech", reply=True, timeout=30)["content"]
        assert "echo" in reply["matches"] and reply["cursor_start"] == 0, reply
        reply = kc.complete("echo $MYV", reply=True, timeout=30)["content"]
        assert reply["matches"] == ["$MYVAR"], reply
        reply = shell_reply(kc, kc.is_complete("if true; then"))
        assert reply["status"] == "incomplete", reply
        reply = shell_reply(kc, kc.is_complete("echo hi"))
        assert reply["status"] == "complete", reply
        reply = kc.inspect("cd", reply=True, timeout=30)["content"]
        assert reply["found"] and "cd" in reply["data"]["text/plain"], reply
    check("complete, is_complete and inspect", introspection)

    def isolation():
        reply, msgs = run(kc, "cat /etc/shadow; id -u; ls /root 2>&1 | head -1; "
                              "(exec 3<>/dev/tcp/1.1.1.1/80) 2>&1 | head -1")
        text = stdout(msgs)
        assert "root:" not in text, text
        assert "61000" in text, text
    check("the shell runs as an unprivileged user without host files", isolation)


if __name__ == "__main__":
    main()
