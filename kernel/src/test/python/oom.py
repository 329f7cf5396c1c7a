"""A cell that outgrows the sandbox's cgroup memory limit: the client is told the sandbox died of running
out of memory, later cells say so too, and a restart gives a working kernel.

argv[1] is a kernelspec whose memory limit is low and whose address-space limit is above it, so that the
cgroup (not MemoryError) ends the cell.
"""
import sys

from jupyter_client.manager import start_new_kernel

km, kc = start_new_kernel(kernel_name=sys.argv[1], startup_timeout=120)
try:
    reply = kc.execute_interactive("import numpy as np\nx = []\nfor i in range(200):\n"
                                   "    x.append(np.ones(32 << 20, dtype=np.uint8))", timeout=120)
    c = reply["content"]
    assert c["status"] == "error" and c["ename"] == "SandboxDied", c
    assert "out of memory" in c["evalue"] and "300 MiB" in c["evalue"], c["evalue"]
    print("PASS an OOM kill is reported as such")
    reply = kc.execute_interactive("1 + 1", timeout=60)
    assert "out of memory" in reply["content"]["evalue"], reply["content"]
    km.restart_kernel(now=False)
    kc.wait_for_ready(timeout=120)
    out = []
    reply = kc.execute_interactive("print('x' in globals())", timeout=60,
                                   output_hook=lambda m: out.append(m["content"].get("text", "")))
    assert reply["content"]["status"] == "ok" and "".join(out) == "False\n", (reply, out)
    print("PASS a restart after the OOM kill gives a fresh, working sandbox")
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=False)
