"""Sandboxes restored from a checkpoint image, through jupyter_client and the installed kernelspec.

The first kernel of a shape starts cold and publishes the image; later ones are restored from it. Each
restored kernel must be its own: fresh random state, its own id, nothing of any other kernel's files or
variables. A broken image must cost a cold start, never a failed kernel, and be replaced.
argv[1] is the data directory (SANDCELL_DATA_DIR). Prints PASS per check.
"""
import glob
import json
import os
import sys

from jupyter_client.manager import start_new_kernel

KERNEL = os.environ.get("SANDCELL_KERNEL_NAME", "sandcell-preload")
DATA = sys.argv[1]

PROBE = r'''
import json, os, random, sys, tempfile, uuid
import numpy
print(json.dumps({
    "random": random.random(),
    "numpy": float(numpy.random.rand()),
    "urandom": os.urandom(8).hex(),
    "uuid": str(uuid.uuid4()),
    "tempname": next(tempfile._get_candidate_names()),
    "kernel_id": os.environ.get("SANDCELL_KERNEL_ID"),
    "preloaded": "numpy" in sys.modules and "json" in sys.modules,
    "a_tmp": os.path.exists("/tmp/from-a"),
    "a_workspace": os.path.exists("/mnt/data/from-a"),
    "a_global": "secret_of_a" in globals(),
    "history": len(In),
}))
'''


def stdout_of(kc, code):
    out = []
    reply = kc.execute_interactive(code, timeout=90, output_hook=out.append)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(m["content"]["text"] for m in out
                   if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")


def start():
    km, kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=120)
    raw = stdout_of(kc, PROBE)
    probe = json.loads(raw)
    probe["raw"] = raw
    msg_id = kc.kernel_info()
    while True:
        reply = kc.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    sandbox = reply["content"]["sandbox"]
    return {"km": km, "kc": kc, "probe": probe, "start": sandbox.get("start"), "state": sandbox.get("state")}


def images():
    return sorted(glob.glob(os.path.join(DATA, "snapshots", "*", "sandcell-meta.json")))


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)), flush=True)
    return ok


def stop(*kernels):
    for k in kernels:
        k["kc"].stop_channels()
        k["km"].shutdown_kernel(now=False)


def main():
    ok = True
    a = start()
    ok &= check("the first kernel starts cold and publishes an image",
                a["start"] == "cold" and a["state"] == "ready" and len(images()) == 1, (a["start"], images()))
    stdout_of(a["kc"], "secret_of_a = 1\nopen('/tmp/from-a', 'w').write('a')\n"
                       "open('/mnt/data/from-a', 'w').write('a')")
    b = start()
    c = start()
    ok &= check("later kernels are restored from the image",
                b["start"] == "restored" and c["start"] == "restored", (b["start"], c["start"]))
    probes = [a["probe"], b["probe"], c["probe"]]
    same = [key for key in ("random", "numpy", "urandom", "uuid", "tempname", "kernel_id")
            if len({p[key] for p in probes}) != 3]
    ok &= check("each restored kernel has its own random state and identity", not same,
                {key: [p[key] for p in probes] for key in same})
    alive = os.listdir(os.path.join(DATA, "kernels"))  # one directory per running kernel, named by its id
    ok &= check("a restored kernel knows its own id", b["probe"]["kernel_id"] in alive
                and c["probe"]["kernel_id"] in alive, ([p["kernel_id"] for p in probes], alive))
    ok &= check("a restored kernel has the preloads imported", b["probe"]["preloaded"] and c["probe"]["preloaded"])
    leaked = [k for k in ("a_tmp", "a_workspace", "a_global") if b["probe"][k] or c["probe"][k]]
    ok &= check("nothing another kernel did reaches a restored one", not leaked, leaked)
    traces = [(p["history"], p["raw"][:1]) for p in (b["probe"], c["probe"])]
    ok &= check("the warm-up cell of a restore leaves no trace: the first cell prints only its own output and is "
                "alone in the history", traces == [(2, "{"), (2, "{")], traces)
    stdout_of(b["kc"], "x = 41")
    ok &= check("a restored kernel keeps its state between cells", stdout_of(b["kc"], "print(x + 1)").strip() == "42")
    stop(a, b, c)

    # a broken image: the next kernel starts cold, replaces it, and the one after is restored again
    image = os.path.dirname(images()[0])
    for name in os.listdir(os.path.join(image, "runsc")):
        with open(os.path.join(image, "runsc", name), "r+b") as f:
            f.write(b"\0garbage" * 512)
    d = start()
    ok &= check("a kernel whose image is broken starts cold", d["start"] == "cold" and d["state"] == "ready",
                d["start"])
    e = start()
    ok &= check("the broken image is replaced and used", e["start"] == "restored" and len(images()) == 1,
                (e["start"], images()))
    stop(d, e)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
