"""How a restore reads its image's pages, through jupyter_client and the installed kernelspec.

A restore reads the image's memory pages with O_DIRECT (runsc restore --direct) where the file system allows.
When direct reads fail, the kernel restores through the page cache instead, marks the image so that later
kernels go there first, and the client still gets a restored kernel.

argv[1] is the data directory (SANDCELL_DATA_DIR), argv[2] the real runsc. The kernels run a test shim in
place of runsc (a fault injector, not a fake: it runs the real runsc): it records each command line in
calls.log beside it, and refuses --direct while a file named refuse-direct is there. Prints PASS per check.
"""
import glob
import os
import stat
import sys

from jupyter_client.manager import start_new_kernel

KERNEL = os.environ.get("SANDCELL_KERNEL_NAME", "sandcell-preload")
DATA, RUNSC = sys.argv[1], sys.argv[2]
SHIM_DIR = os.path.join(DATA, "shim")
SHIM = os.path.join(SHIM_DIR, "runsc")
CALLS = os.path.join(SHIM_DIR, "calls.log")
REFUSE = os.path.join(SHIM_DIR, "refuse-direct")

SHIM_SCRIPT = """#!/bin/sh
here=$(dirname "$0")
echo "$*" >> "$here/calls.log"
for a in "$@"; do
  if [ "$a" = --direct ] && [ -e "$here/refuse-direct" ]; then
    echo "direct reads refused by the test shim" >&2
    exit 1
  fi
done
exec %s "$@"
"""


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)), flush=True)
    return ok


def start():
    env = dict(os.environ, SANDCELL_RUNSC=SHIM, SANDCELL_DATA_DIR=DATA)
    km, kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=120, env=env)
    reply = kc.execute_interactive("x = 6 * 7", timeout=90)
    assert reply["content"]["status"] == "ok", reply["content"]
    sandbox = reply_sandbox(kc)
    return {"km": km, "kc": kc, "start": sandbox.get("start")}


def reply_sandbox(kc):
    msg_id = kc.kernel_info()
    while True:
        reply = kc.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"]["sandbox"]


def stop(k):
    k["kc"].stop_channels()
    k["km"].shutdown_kernel(now=False)


def restores():
    """The restore command lines the shim saw, in order."""
    with open(CALLS) as f:
        return [line.split() for line in f if " restore " in line]


def cached_only_marks():
    return glob.glob(os.path.join(DATA, "snapshots", "*", "sandcell-cached-only"))


def main():
    os.makedirs(SHIM_DIR, exist_ok=True)
    with open(SHIM, "w") as f:
        f.write(SHIM_SCRIPT % RUNSC)
    os.chmod(SHIM, stat.S_IRWXU)
    ok = True

    a = start()  # the first kernel of this shape (this runsc) makes the image
    ok &= check("the first kernel starts cold", a["start"] == "cold", a["start"])
    stop(a)

    b = start()
    calls = restores()
    ok &= check("a restore reads the image's pages directly", b["start"] == "restored" and len(calls) == 1
                and "--direct" in calls[0], (b["start"], calls))
    stop(b)

    open(REFUSE, "w").close()
    c = start()
    calls = restores()[1:]
    ok &= check("when direct reads fail, the kernel is restored through the page cache",
                c["start"] == "restored" and len(calls) == 2 and "--direct" in calls[0]
                and "--direct" not in calls[1], (c["start"], calls))
    ok &= check("the image is marked to be read through the page cache", len(cached_only_marks()) == 1,
                cached_only_marks())
    stop(c)

    os.remove(REFUSE)
    d = start()
    calls = restores()[3:]
    ok &= check("later kernels read that image through the page cache at once",
                d["start"] == "restored" and len(calls) == 1 and "--direct" not in calls[0], (d["start"], calls))
    stop(d)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
