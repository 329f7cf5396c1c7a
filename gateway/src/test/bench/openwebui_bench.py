"""Open WebUI-style call latency, side by side: each call creates a kernel, opens the websocket, sends one
execute_request, reads until idle and deletes the kernel (exactly the Open WebUI flow). Prints p50/p95 per
server and workload, the ratios of the last server against each of the others (its peers), and writes JSON.

usage: openwebui_bench.py OUT.json CALLS NAME=URL|TOKEN [NAME=URL|TOKEN ...]   (the last server is compared
       against each of the others, its peers)
       openwebui_bench.py --first OUT.json NAME=URL|TOKEN [...]   one call per server, right after startup
       openwebui_bench.py --more OUT.json NAME=URL|PIDPATTERN|TOKEN [...]
           execute round trips, calls at concurrency 4, sustained calls/s over 60 s, and memory per idle kernel
           with 20 kernels alive (PSS of every process whose command line contains PIDPATTERN; "-" skips it)
BENCH_PAUSE (seconds, default 0.2) is the pause between calls.
"""
import asyncio
import json
import statistics
import sys
import time
import uuid

import aiohttp
import websockets

PAUSE = float(__import__("os").environ.get("BENCH_PAUSE", "0.2"))
WORKLOADS = {
    "print": "print('hello')",
    "print+plot": "print('hello')\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()",
    # a cell that fails, as a model's code often does: the client gets the error and its traceback
    "print+error": "print('hello')\n1/0",
}


async def call(base, token, code):
    async with aiohttp.ClientSession() as http:
        async with http.post(base + "api/kernels", params={"token": token}) as r:
            await expect(r, 201)
            kernel = (await r.json())["id"]
        try:
            url = base.replace("http", "ws", 1) + "api/kernels/%s/channels?token=%s" % (kernel, token)
            async with websockets.connect(url, max_size=2 ** 20, open_timeout=120) as ws:
                msg_id = uuid.uuid4().hex
                await ws.send(json.dumps({
                    "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "user",
                               "session": uuid.uuid4().hex, "date": "", "version": "5.3"},
                    "parent_header": {}, "metadata": {},
                    "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                                "allow_stdin": False, "stop_on_error": True}, "channel": "shell"}))
                got = False
                while True:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    if m.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    if m["msg_type"] == "stream":
                        got = True
                    if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                        break
                if not got:
                    raise RuntimeError("no output")
        finally:
            async with http.delete(base + "api/kernels/" + kernel, params={"token": token}) as r:
                await expect(r, 204)


async def expect(response, status):
    """Fails with the server's own answer, so that a benchmark's error says what went wrong."""
    if response.status != status:
        raise RuntimeError("%s %s: %d %s" % (response.method, response.url.path, response.status,
                                              (await response.text())[:500]))


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def ws_url(base, kernel, token):
    return base.replace("http", "ws", 1) + "api/kernels/%s/channels?token=%s" % (kernel, token)


def execute_msg(code):
    msg_id = uuid.uuid4().hex
    return msg_id, json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "user",
                   "session": uuid.uuid4().hex, "date": "", "version": "5.3"},
        "parent_header": {}, "metadata": {},
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}, "channel": "shell"})


async def until_idle(ws, msg_id):
    while True:
        m = json.loads(await asyncio.wait_for(ws.recv(), 120))
        if (m.get("parent_header", {}).get("msg_id") == msg_id and m["msg_type"] == "status"
                and m["content"]["execution_state"] == "idle"):
            return


async def round_trips(base, token, n):
    async with aiohttp.ClientSession() as http:
        async with http.post(base + "api/kernels", params={"token": token}) as r:
            await expect(r, 201)
            kernel = (await r.json())["id"]
        try:
            async with websockets.connect(ws_url(base, kernel, token), max_size=2 ** 20, open_timeout=120) as ws:
                for code in ("x = 0", "x = x + 1"):
                    msg_id, text = execute_msg(code)
                    await ws.send(text)
                    await until_idle(ws, msg_id)
                times = []
                for _ in range(n):
                    msg_id, text = execute_msg("x = x + 1")
                    t = time.perf_counter()
                    await ws.send(text)
                    await until_idle(ws, msg_id)
                    times.append((time.perf_counter() - t) * 1000)
                return times
        finally:
            async with http.delete(base + "api/kernels/" + kernel, params={"token": token}):
                pass


async def concurrent_calls(base, token, code, workers, calls=None, seconds=None):
    times = []
    deadline = time.perf_counter() + seconds if seconds else None
    left = [calls or 0]

    async def worker():
        while (deadline and time.perf_counter() < deadline) or (not deadline and left[0] > 0):
            left[0] -= 1
            t = time.perf_counter()
            await call(base, token, code)
            times.append((time.perf_counter() - t) * 1000)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return times, time.perf_counter() - started


def pss_kb(pattern):
    """The PSS of every process whose command line contains pattern, and of their descendants, counting each
    address space once. A gVisor sandbox's application memory lives in the address space of its systrap stub
    processes, children of the sentry with an empty command line: a share of every page the sandboxed
    program touched counts there, not in the sentry (which maps the same memory). Several stub processes
    share one address space, whose PSS each of them reports in full."""
    import ctypes
    import os
    import platform
    libc = ctypes.CDLL(None, use_errno=True)
    kcmp = {"x86_64": 312, "aarch64": 272}.get(platform.machine())
    if kcmp is None:
        raise RuntimeError("kcmp(2)'s system call number on %s is not known here" % platform.machine())

    def same_vm(a, b):  # kcmp(2), KCMP_VM: whether two processes share their memory
        return libc.syscall(kcmp, int(a), int(b), 1, 0, 0) == 0

    parent, matched = {}, set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                stat = f.read()
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        parent[pid] = stat[stat.rfind(")") + 2:].split()[1]
        if pattern.encode() in cmdline:
            matched.add(pid)

    def counted(pid):
        seen = set()
        while pid in parent and pid not in seen:
            if pid in matched:
                return True
            seen.add(pid)
            pid = parent[pid]
        return False
    total, spaces = 0, []
    for pid in sorted((p for p in parent if counted(p)), key=int):
        if any(same_vm(pid, other) for other in spaces):
            continue
        try:
            with open("/proc/%s/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            continue
        spaces.append(pid)
    return total


async def memory_per_kernel(base, token, pattern, n=20):
    before = pss_kb(pattern)
    kernels = []
    async with aiohttp.ClientSession() as http:
        for _ in range(n):
            async with http.post(base + "api/kernels", params={"token": token}) as r:
                await expect(r, 201)
                kernels.append((await r.json())["id"])
        for kernel in kernels:  # every kernel with the libraries imported, then idle
            async with websockets.connect(ws_url(base, kernel, token), max_size=2 ** 20, open_timeout=120) as ws:
                msg_id, text = execute_msg("import numpy, pandas, matplotlib.pyplot")
                await ws.send(text)
                await until_idle(ws, msg_id)
        await asyncio.sleep(5)
        after = pss_kb(pattern)
        for kernel in kernels:
            async with http.delete(base + "api/kernels/" + kernel, params={"token": token}):
                pass
    return (after - before) / n / 1024


async def more(out, servers):
    results = {}
    for name, url, pattern, token in servers:
        r = results.setdefault(name, {})
        times = await round_trips(url, token, 1000)
        r["rtt_p50_ms"], r["rtt_p99_ms"] = round(statistics.median(times), 2), round(pct(times, 99), 2)
        times, _ = await concurrent_calls(url, token, WORKLOADS["print"], 4, calls=40)
        r["c4_print_p50_ms"], r["c4_print_p95_ms"] = round(statistics.median(times), 1), round(pct(times, 95), 1)
        times, took = await concurrent_calls(url, token, WORKLOADS["print+plot"], 4, seconds=60)
        r["sustained_calls_per_s"] = round(len(times) / took, 2)
        if pattern != "-":  # "-": the same server as a peer already measured, memory included
            r["idle_kernel_pss_mb"] = round(await memory_per_kernel(url, token, pattern), 1)
        print(name, r, flush=True)
    names = list(results)
    print("%-26s" % "metric" + "".join("%28s" % n for n in names)
          + "".join("%16s" % ("vs peer %d" % (i + 1)) for i in range(len(names) - 1)))
    for metric in results[names[0]]:
        values = [results[n].get(metric) for n in names]
        better_high = metric.startswith("sustained")
        ratios = ""
        for peer in values[:-1]:
            if peer is None or not values[-1]:
                ratios += "%16s" % "-"
            else:
                ratios += "%15.2fx" % ((values[-1] / peer) if better_high else (peer / values[-1]))
        print("%-26s" % metric + "".join("%28s" % ("-" if v is None else v) for v in values) + ratios)
    with open(out, "w") as f:
        json.dump(results, f, indent=1)


async def first(out, servers):
    results = {}
    for name, url, token in servers:
        t = time.perf_counter()
        await call(url, token, WORKLOADS["print"])
        results[name] = {"first_call_ms": round((time.perf_counter() - t) * 1000, 1)}
        print(name, results[name], flush=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=1)


async def main():
    if sys.argv[1] == "--first":
        return await first(sys.argv[2], [(a.split("=", 1)[0], *a.split("=", 1)[1].split("|")) for a in sys.argv[3:]])
    if sys.argv[1] == "--more":
        return await more(sys.argv[2], [(a.split("=", 1)[0], *a.split("=", 1)[1].split("|")) for a in sys.argv[3:]])
    out, calls = sys.argv[1], int(sys.argv[2])
    servers = []
    for arg in sys.argv[3:]:
        name, rest = arg.split("=", 1)
        url, token = rest.split("|")
        servers.append((name, url if url.endswith("/") else url + "/", token))
    results = {}
    for workload, code in WORKLOADS.items():
        for name, url, token in servers:
            await call(url, token, code)  # warm-up
            times = []
            for _ in range(calls):
                t = time.perf_counter()
                await call(url, token, code)
                times.append((time.perf_counter() - t) * 1000)
                await asyncio.sleep(PAUSE)  # time between calls, as between chat messages
            results.setdefault(workload, {})[name] = {"p50_ms": round(statistics.median(times), 1),
                                                      "p95_ms": round(pct(times, 95), 1), "n": calls}
    peers = [name for name, _, _ in servers[:-1]]
    print("%-12s %-30s %10s %10s" % ("workload", "server", "p50 ms", "p95 ms")
          + "".join("%14s" % ("vs peer %d" % (i + 1)) for i in range(len(peers))))
    for workload, by in results.items():
        for name, r in by.items():
            ratios = {peer: round(by[peer]["p50_ms"] / r["p50_ms"], 2) for peer in peers}
            r["speedup_vs"] = ratios
            print("%-12s %-30s %10.1f %10.1f" % (workload, name, r["p50_ms"], r["p95_ms"])
                  + "".join("%13.2fx" % ratios[peer] for peer in peers))
    with open(out, "w") as f:
        json.dump({"calls": calls, "results": results}, f, indent=1)


if __name__ == "__main__":
    asyncio.run(main())
