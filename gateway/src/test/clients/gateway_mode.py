"""Debian's jupyter-server in gateway mode (--gateway-url at our gateway), driven as JupyterLab drives it:
kernelspecs, a session, the kernel websocket on jupyter-server, execute, restart, delete.

usage: gateway_mode.py JUPYTER_SERVER_URL TOKEN
"""
import json
import sys
import time
import urllib.request
import uuid

import websocket

URL, TOKEN = sys.argv[1], sys.argv[2]


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(URL + path, data=data, method=method,
                                 headers={"Authorization": "token " + TOKEN, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        text = r.read()
        return r.status, json.loads(text) if text else None


def message(msg_type, content, session):
    return json.dumps({"header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "lab",
                                  "session": session, "date": "", "version": "5.3"},
                       "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"})


def until_reply(ws, msg_id, timeout=120):
    out, deadline = "", time.time() + timeout
    idle = reply = None
    while not (idle and reply):
        ws.settimeout(max(1, deadline - time.time()))
        m = json.loads(ws.recv())
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        if m["msg_type"] == "stream":
            out += m["content"]["text"]
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            idle = True
        if m["msg_type"].endswith("_reply"):
            reply = m
    return reply, out


def settle(ws, session):
    # what JupyterLab does on connect: kernel_info until it answers
    for _ in range(30):
        m = message("kernel_info_request", {}, session)
        ws.send(m)
        try:
            until_reply(ws, json.loads(m)["header"]["msg_id"], timeout=2)
            return
        except websocket.WebSocketTimeoutException:
            continue
    raise AssertionError("no kernel_info_reply")


status, specs = call("GET", "api/kernelspecs")
assert specs["default"] == "python3" and "sandbox" in specs["kernelspecs"]["python3"]["spec"]["display_name"], specs
print("PASS kernelspecs come from the gateway")

status, sess = call("POST", "api/sessions", {"path": "nb.ipynb", "type": "notebook", "name": "nb",
                                              "kernel": {"name": "python3"}})
assert status == 201, status
kernel = sess["kernel"]["id"]
session = uuid.uuid4().hex
ws = websocket.create_connection(URL.replace("http", "ws", 1) + "api/kernels/%s/channels?session_id=%s&token=%s"
                                 % (kernel, session, TOKEN), timeout=120)
settle(ws, session)
m = message("execute_request", {"code": "import os\nprint(os.uname().release, os.getcwd())", "silent": False,
                                "store_history": True, "user_expressions": {}, "allow_stdin": False}, session)
ws.send(m)
reply, out = until_reply(ws, json.loads(m)["header"]["msg_id"])
assert reply["content"]["status"] == "ok" and out == "4.4.0 /mnt/data\n", (reply, out)
print("PASS code runs in a gVisor sandbox through jupyter-server's gateway mode")

status, model = call("POST", "api/kernels/%s/restart" % kernel, {})
assert status == 200, status
ws.close()
ws = websocket.create_connection(URL.replace("http", "ws", 1) + "api/kernels/%s/channels?session_id=%s&token=%s"
                                 % (kernel, session, TOKEN), timeout=120)
settle(ws, session)
m = message("execute_request", {"code": "print('after restart')", "silent": False, "store_history": True,
                                "user_expressions": {}, "allow_stdin": False}, session)
ws.send(m)
reply, out = until_reply(ws, json.loads(m)["header"]["msg_id"])
assert out == "after restart\n", out
ws.close()
print("PASS restart through the gateway")

status, _ = call("DELETE", "api/sessions/%s" % sess["id"])
assert status == 204, status
print("PASS session and kernel deleted")
