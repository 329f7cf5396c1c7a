"""The soak run: Open WebUI calls at a chat's pace, with tool-server calls of 20 chats, while one kernel floods
output and one chat forks, against a running gateway. Counts what was lost and samples the gateway's memory and
descriptors. Run by .ci/soak (1000 calls) and SoakIT (200 calls, in the test suite).

Each Open WebUI call is what its Jupyter engine does: POST /api/kernels, a websocket, one execute_request with
a marker, read until idle, close, DELETE. A call whose output lacks its marker is lost; one that fails any
other way is an error. Tool calls of each chat count up a variable, so a call that answers with the wrong
count lost the chat's state.

usage: soak.py BASE_URL TOKEN CALLS GATEWAY_PID [PAUSE_SECONDS]
Prints one "soak:" summary line and a JSON line; exits 1 when anything was lost or failed.
"""
import asyncio
import json
import os
import sys
import time
import uuid

import aiohttp
import websockets

BASE, TOKEN, CALLS, PID = sys.argv[1].rstrip("/") + "/", sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
PAUSE = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
CHATS = 20
PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3]); plt.show()\n"

stats = {"calls": 0, "lost": 0, "errors": [], "tool_calls": 0, "tool_lost": 0, "samples": []}


def sample():
    """The gateway's resident memory (MB) and open descriptors."""
    with open("/proc/%d/status" % PID) as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    stats["samples"].append((round(time.time(), 1), round(rss, 1), len(os.listdir("/proc/%d/fd" % PID))))


def execute_message(code):
    return json.dumps({
        "header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "soak",
                   "session": uuid.uuid4().hex, "date": "", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}})


async def openwebui_call(http, i):
    marker = "soak-%d-%s" % (i, uuid.uuid4().hex[:8])
    code = "print(%r)\n%s" % (marker, PLOT if i % 10 == 0 else "")
    async with http.post(BASE + "api/kernels", params={"token": TOKEN}) as r:
        if r.status != 201:
            raise RuntimeError("POST api/kernels: %d %s" % (r.status, (await r.text())[:200]))
        kernel = (await r.json())["id"]
    stdout = ""
    try:
        url = BASE.replace("http", "ws", 1) + "api/kernels/%s/channels?token=%s" % (kernel, TOKEN)
        async with websockets.connect(url, max_size=2 ** 24) as ws:
            request = execute_message(code)
            msg_id = json.loads(request)["header"]["msg_id"]
            await ws.send(request)
            while True:
                m = json.loads(await asyncio.wait_for(ws.recv(), 120))
                if m["parent_header"].get("msg_id") != msg_id:
                    continue
                if m["msg_type"] == "stream":
                    stdout += m["content"]["text"]
                if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                    break
    finally:
        async with http.delete(BASE + "api/kernels/" + kernel, params={"token": TOKEN}) as r:
            if r.status != 204:
                raise RuntimeError("DELETE api/kernels: %d" % r.status)
    if marker not in stdout:
        stats["lost"] += 1


async def tool_call(http, chat, code):
    headers = {"Authorization": "Bearer " + TOKEN, "X-OpenWebUI-Chat-Id": chat,
               "X-OpenWebUI-User-Id": "soak-user-%s" % chat[-1]}
    async with http.post(BASE + "tools/execute_python", json={"code": code}, headers=headers) as r:
        if r.status != 200:
            raise RuntimeError("tool call: %d %s" % (r.status, (await r.text())[:200]))
        return await r.json()


async def chat_call(http, i, counts):
    chat = "soak-chat-%02d" % (i % CHATS)
    counts[chat] = counts.get(chat, 0) + 1
    r = await tool_call(http, chat, "n = globals().get('n', 0) + 1\nprint('count', n)")
    stats["tool_calls"] += 1
    if r["stdout"] != "count %d\n" % counts[chat]:
        stats["tool_lost"] += 1
        counts[chat] = int(r["stdout"].split()[-1]) if r["stdout"].startswith("count") else 0


async def flood(http, stop):
    """One kernel printing without end, read by a client that keeps up, until the run ends."""
    async with http.post(BASE + "api/kernels", params={"token": TOKEN}) as r:
        kernel = (await r.json())["id"]
    url = BASE.replace("http", "ws", 1) + "api/kernels/%s/channels?token=%s" % (kernel, TOKEN)
    async with websockets.connect(url, max_size=2 ** 24) as ws:
        await ws.send(execute_message("while True:\n    print('flood ' * 200)"))
        while not stop.is_set():
            try:
                await asyncio.wait_for(ws.recv(), 1)
            except asyncio.TimeoutError:
                pass
    async with http.post(BASE + "api/kernels/%s/interrupt" % kernel, params={"token": TOKEN}):
        pass
    async with http.delete(BASE + "api/kernels/" + kernel, params={"token": TOKEN}):
        pass


async def worker(http, calls, counts):
    for i in calls:
        try:
            await openwebui_call(http, i)
            if i % 5 == 0:
                await chat_call(http, i // 5, counts)
            if i % 25 == 0:
                r = await tool_call(http, "soak-forker-0", "import os, time\npids = []\nfor _ in range(8):\n"
                                    "    p = os.fork()\n    if p == 0:\n        time.sleep(0.5); os._exit(0)\n"
                                    "    pids.append(p)\nfor p in pids:\n    os.waitpid(p, 0)\nprint('forked')")
                if r["stdout"] != "forked\n":
                    stats["errors"].append("fork cell: " + json.dumps(r)[:200])
        except Exception as e:  # counted, and the run goes on
            stats["errors"].append("call %d: %s" % (i, str(e)[:200]))
        stats["calls"] += 1
        sample()
        await asyncio.sleep(PAUSE)


async def main():
    sample()
    started = time.time()
    stop = asyncio.Event()
    counts = {}
    async with aiohttp.ClientSession() as http:
        flooder = asyncio.create_task(flood(http, stop))
        await asyncio.gather(worker(http, range(0, CALLS, 2), counts), worker(http, range(1, CALLS, 2), counts))
        stop.set()
        await flooder
    s = stats["samples"]
    summary = {"calls": stats["calls"], "lost": stats["lost"], "tool_calls": stats["tool_calls"],
               "tool_lost": stats["tool_lost"], "errors": len(stats["errors"]), "seconds": round(time.time() - started),
               "rss_mb": [s[0][1], max(x[1] for x in s), s[-1][1]], "fds": [s[0][2], max(x[2] for x in s), s[-1][2]]}
    print("soak: %(calls)d calls (%(tool_calls)d tool calls) in %(seconds)d s: %(lost)d lost, %(tool_lost)d tool "
          "calls lost their chat's state, %(errors)d errors; gateway RSS %(rss_mb)s MB (start, max, end), open "
          "descriptors %(fds)s" % summary, flush=True)
    for e in stats["errors"][:10]:
        print("  error:", e)
    print(json.dumps({"summary": summary, "samples": s}))
    sys.exit(1 if stats["lost"] or stats["tool_lost"] or stats["errors"] else 0)


asyncio.run(main())
