"""Open WebUI-style call latency, side by side: each call creates a kernel, opens the websocket, sends one
execute_request, reads until idle and deletes the kernel (exactly the Open WebUI flow). Prints p50/p95 per
server and workload, the ratios against the first server (the peer), and writes JSON.

usage: openwebui_bench.py OUT.json CALLS NAME=URL|TOKEN [NAME=URL|TOKEN ...]
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
}


async def call(base, token, code):
    async with aiohttp.ClientSession() as http:
        async with http.post(base + "api/kernels", params={"token": token}) as r:
            r.raise_for_status()
            kernel = (await r.json())["id"]
        try:
            url = base.replace("http", "ws", 1) + "api/kernels/%s/channels?token=%s" % (kernel, token)
            async with websockets.connect(url, max_size=2 ** 20) as ws:
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
                r.raise_for_status()


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def main():
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
    peer = servers[0][0]
    print("%-12s %-24s %10s %10s %12s" % ("workload", "server", "p50 ms", "p95 ms", "p50 vs peer"))
    for workload, by in results.items():
        for name, r in by.items():
            ratio = by[peer]["p50_ms"] / r["p50_ms"]
            r["speedup_vs_peer"] = round(ratio, 2)
            print("%-12s %-24s %10.1f %10.1f %11.2fx" % (workload, name, r["p50_ms"], r["p95_ms"], ratio))
    with open(out, "w") as f:
        json.dump({"calls": calls, "results": results}, f, indent=1)


asyncio.run(main())
