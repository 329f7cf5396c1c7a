"""A client that talks to a Jupyter server exactly as Open WebUI's "Jupyter" code execution engine does.

Behaviour follows shared/docs/openwebui-client.md: aiohttp for REST (empty POST body, token as a query
parameter, or the _xsrf/password login flow with cookies and X-XSRFToken), the websockets library for the
kernel channel (no subprotocol, legacy JSON, 1 MiB default max frame size on what it receives), one
execute_request sent right after the socket opens, output read until the idle status of that request,
then DELETE of the kernel. Prints PASS per check; exits non-zero on the first failure.

usage: openwebui_client.py URL MODE SECRET CALLS [--big]
"""
import asyncio
import json
import sys
import uuid

import aiohttp
import websockets

URL, MODE, SECRET, CALLS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
BIG = "--big" in sys.argv


async def execute(code, timeout=120, max_size=2 ** 20):
    base = URL if URL.endswith("/") else URL + "/"
    out = {"stdout": "", "stderr": "", "result": []}
    params = {"token": SECRET} if MODE == "token" else {}
    async with aiohttp.ClientSession() as http:  # Debian's aiohttp 3.8 has no relative base_url paths
        kernel = None
        try:
            if MODE == "password":
                async with http.get(base + "login") as r:
                    r.raise_for_status()
                    xsrf = r.cookies["_xsrf"].value
                    http.cookie_jar.update_cookies(r.cookies)
                    http.headers.update({"X-XSRFToken": xsrf})
                async with http.post(base + "login", data={"_xsrf": xsrf, "password": SECRET},
                                     allow_redirects=False) as r:
                    r.raise_for_status()
                    http.cookie_jar.update_cookies(r.cookies)
            async with http.post(base + "api/kernels", params=params) as r:
                r.raise_for_status()
                kernel = (await r.json())["id"]
            ws_url = base.replace("http", "ws", 1) + "api/kernels/%s/channels" % kernel
            if params:
                ws_url += "?token=" + SECRET
            headers = {}
            if MODE == "password":
                headers = {"Cookie": "; ".join("%s=%s" % (c.key, c.value) for c in http.cookie_jar),
                           **http.headers}
            async with websockets.connect(ws_url, extra_headers=headers, max_size=max_size) as ws:
                msg_id = uuid.uuid4().hex
                await ws.send(json.dumps({
                    "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "user",
                               "session": uuid.uuid4().hex, "date": "", "version": "5.3"},
                    "parent_header": {}, "metadata": {},
                    "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                                "allow_stdin": False, "stop_on_error": True},
                    "channel": "shell"}))
                while True:
                    try:
                        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
                    except asyncio.TimeoutError:
                        out["stderr"] += "\nExecution timed out."
                        break
                    if frame.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    kind = frame.get("msg_type")
                    content = frame["content"]
                    if kind == "stream":
                        if content["name"] in ("stdout", "stderr"):
                            out[content["name"]] += content["text"]
                    elif kind in ("execute_result", "display_data"):
                        if "image/png" in content["data"]:
                            out["result"].append("data:image/png;base64," + content["data"]["image/png"])
                        elif "text/plain" in content["data"]:
                            out["result"].append(content["data"]["text/plain"])
                    elif kind == "error":
                        out["stderr"] += "\n".join(content["traceback"])
                    elif kind == "status" and content["execution_state"] == "idle":
                        break
        except Exception as e:  # Open WebUI reports any failure as stderr "Error: ..."
            out["stderr"] = "Error: %s" % e
        finally:
            if kernel:
                async with http.delete(base + "api/kernels/%s" % kernel, params=params) as r:
                    r.raise_for_status()
    return {"stdout": out["stdout"].strip(), "stderr": out["stderr"].strip(),
            "result": "\n".join(out["result"]).strip()}


PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\n"


async def main():
    r = await execute("print('hello')\n" + PLOT + "6 * 7")
    assert r["stdout"] == "hello", r
    lines = r["result"].split("\n")
    assert len(lines) == 2 and lines[0].startswith("data:image/png;base64,iVBOR") and lines[1] == "42", \
        r["result"][:200]
    assert r["stderr"] == "", r
    print("PASS stream, display_data image/png and execute_result reach the client")

    r = await execute("print('before')\nraise ValueError('bad value')")
    assert r["stdout"] == "before" and "ValueError" in r["stderr"] and "bad value" in r["stderr"], r
    print("PASS errors arrive as tracebacks")

    for i in range(CALLS):
        code = "print('call %d')\n%s%d * 2" % (i, PLOT if i % 10 == 0 else "", i)
        r = await execute(code)
        assert r["stdout"] == "call %d" % i, (i, r)
        assert r["result"].split("\n")[-1] == str(i * 2), (i, r["result"][-100:])
        assert r["stderr"] == "", (i, r)
    print("PASS %d calls in a row lost no output" % CALLS)

    r = await execute("from IPython.display import display\ndisplay({'text/plain': 'y' * (2 << 20)}, raw=True)\n"
                      "print('small')")
    if "--iopub-limit" in sys.argv:
        assert r["stdout"] == "small" and "exceeded the gateway's limit" in r["stderr"], r
        print("PASS an output above --max-iopub-message-mb becomes a notice; the call survives")

    if BIG:
        # the echo (execute_input) is as large as the request: lift the client's 1 MiB receive limit
        r = await execute("s = '%s'\nprint(len(s))" % ("x" * (64 << 20)), timeout=600, max_size=None)
        assert r["stdout"] == str(64 << 20), r["stdout"][:100] + r["stderr"][:300]
        print("PASS a 64 MiB execute_request in one frame")


asyncio.run(main())
