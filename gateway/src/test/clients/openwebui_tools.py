"""Open WebUI's OpenAPI tool-server calls, made as Open WebUI makes them (aiohttp), against the gateway.

Spec fetch: GET {url}/openapi.json with Accept/Content-Type JSON and Authorization: Bearer <key>; every
operation with an operationId becomes a tool. Call: POST {url}{route} whose body is the JSON of the model's
arguments, with Authorization: Bearer <key>, Content-Type: application/json, the forwarded user headers
(X-OpenWebUI-User-Id / X-OpenWebUI-Chat-Id) or a configured custom header, no redirects.

Usage: openwebui_tools.py BASE_URL KEY TOOL_KEY HOST_SECRET_FILE
Prints "PASS <name>" per check; exits non-zero on the first failure.
"""
import asyncio
import json
import os
import sys
import time

import aiohttp

BASE, KEY, TOOL_KEY, SECRET_FILE = sys.argv[1:5]
BASE = BASE.rstrip("/")


def check(name):
    print("PASS", name, flush=True)


class OpenWebUI:
    """The parts of Open WebUI's tool-server client these checks need."""

    def __init__(self, session, key):
        self.session = session
        self.key = key
        self.tools = {}

    async def load_spec(self):
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = "Bearer " + self.key
        async with self.session.get(BASE + "/openapi.json", headers=headers,
                                    timeout=aiohttp.ClientTimeout(total=10)) as r:
            status, spec = r.status, await r.json(content_type=None)
        if status != 200:
            return status, spec
        for path, methods in spec["paths"].items():
            for method, op in methods.items():
                if "operationId" in op:
                    self.tools[op["operationId"]] = (method, path, op)
        return status, spec

    async def call(self, tool, args, chat=None, user=None, extra=None, key=None):
        method, path, op = self.tools[tool]
        headers = {"Authorization": "Bearer " + (self.key if key is None else key),
                   "Content-Type": "application/json"}
        if user is not None:
            headers["X-OpenWebUI-User-Id"] = user
        if chat is not None:
            headers["X-OpenWebUI-Chat-Id"] = chat
        headers.update(extra or {})
        body = args if "requestBody" in op else {}
        async with self.session.request(method.upper(), BASE + path, json=body, headers=headers,
                                        allow_redirects=False) as r:
            return r.status, await r.json(content_type=None)


async def fetch(session, url):
    async with session.get(url, allow_redirects=False) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.read()


async def main():
    async with aiohttp.ClientSession() as session:
        owui = OpenWebUI(session, KEY)
        await checks(session, owui)


async def checks(session, owui):
    status, spec = await owui.load_spec()
    assert status == 200, (status, spec)
    assert spec["openapi"].startswith("3.1"), spec["openapi"]
    assert set(owui.tools) == {"execute_python", "execute_bash"}, owui.tools
    desc = owui.tools["execute_python"][2]["description"]
    for phrase in ("/mnt/data", "network", "persists", "numpy", "![", "seconds"):
        assert phrase in desc, (phrase, desc)
    check("the spec lists execute_python and execute_bash with descriptions for the model")

    for key in ("", "wrong-key-0123456789abcdef"):
        status, body = await OpenWebUI(session, key).load_spec()
        assert status == 401, (status, body)
        status, body = await owui.call("execute_python", {"code": "1"}, chat="c-auth", key=key)
        assert status == 401 and "message" in body, (status, body)
    tool_client = OpenWebUI(session, TOOL_KEY)
    status, _ = await tool_client.load_spec()
    assert status == 200
    status, body = await tool_client.call("execute_python", {"code": "6*7"})
    assert status == 200 and body["result"] == "42", body
    check("a missing or wrong Bearer key gets 401; the gateway token and the tool key both work")

    status, r = await owui.call("execute_python", {"code": "secret = 'chat-a'\nimport os\nos.chdir('/tmp')\n"
                                                            "print('set')"}, chat="chat-a", user="alice")
    assert status == 200 and r["status"] == "ok" and r["stdout"] == "set\n", r
    status, r = await owui.call("execute_python", {"code": "import os\nprint(secret, os.getcwd())"},
                                chat="chat-a", user="alice")
    assert r["stdout"] == "chat-a /tmp\n", r
    status, r = await owui.call("execute_python", {"code": "print(secret)"}, chat="chat-b", user="alice")
    assert r["status"] == "error" and "NameError" in r["stderr"], r
    status, r = await owui.call("execute_python", {"code": "import socket\nsocket.gethostname()"},
                                chat="chat-b", user="alice")
    assert r["result"] == "'sandbox'", r
    check("state persists across calls of one chat and not across chats")

    status, r = await owui.call("execute_bash", {"command": "mkdir -p proj && cd proj && export GREETING=hi"},
                                chat="chat-a", user="alice")
    assert status == 200 and r["status"] == "ok" and r["exit_code"] == 0, r
    status, r = await owui.call("execute_bash", {"command": "pwd; echo $GREETING; false"}, chat="chat-a",
                                user="alice")
    assert r["stdout"] == "/mnt/data/proj\nhi\n" and r["status"] == "error" and r["exit_code"] == 1, r
    check("Bash keeps its cwd and variables between calls; a failing command gives its exit code")

    code = ("import matplotlib\nmatplotlib.use('module://matplotlib_inline.backend_inline')\n"
            "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()")
    status, r = await owui.call("execute_python", {"code": code}, chat="chat-a", user="alice")
    assert r["status"] == "ok" and len(r["images"]) == 1, r
    url = r["images"][0]
    assert url.startswith("http") and "base64" not in url and len(url) < 300, url
    status, ctype, data = await fetch(session, url)
    assert status == 200 and ctype == "image/png" and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000, \
        (status, ctype, data[:16])
    status, _, _ = await fetch(session, url[:-10] + "AAAAAAAAAA.png")
    assert status == 404, status
    image_url = url
    check("a displayed plot comes back as a link to a real PNG")

    status, r = await owui.call("execute_python", {"code": "import pathlib\n"
                                                            "pathlib.Path('/mnt/data/report.csv').write_text('a,b\\n1,2\\n')"
                                                            "\nNone"}, chat="chat-a", user="alice")
    files = {f["name"]: f for f in r["files"]}
    assert "report.csv" in files and files["report.csv"]["size"] == 8, r
    status, _, data = await fetch(session, files["report.csv"]["url"])
    assert status == 200 and data == b"a,b\n1,2\n", (status, data)
    status, r = await owui.call("execute_bash", {"command": "cat /mnt/data/report.csv | wc -l"}, chat="chat-a",
                                user="alice")
    assert r["stdout"].strip() == "2", r
    check("a file written by code is listed and downloads; Python and Bash of a chat share /mnt/data")

    # A link to a host file, planted by the sandbox: never listed, never served, even when it replaces a
    # file that was granted for download, or sits in a directory on the way.
    plant = ("import os\nos.symlink(%r, '/mnt/data/host-secret.txt')\nos.makedirs('/mnt/data/sub', exist_ok=True)\n"
             "open('/mnt/data/sub/data.txt', 'w').write('fine')\nopen('/mnt/data/plain.txt', 'w').write('fine')\n"
             "None") % SECRET_FILE
    status, r = await owui.call("execute_python", {"code": plant}, chat="chat-a", user="alice")
    urls = {f["name"]: f["url"] for f in r["files"]}
    assert "host-secret.txt" not in urls and set(urls) == {"sub/data.txt", "plain.txt"}, r
    for url in urls.values():
        status, _, data = await fetch(session, url)
        assert status == 200 and data == b"fine", (status, data)
    swap = ("import os\nos.remove('/mnt/data/plain.txt')\nos.symlink(%r, '/mnt/data/plain.txt')\n"
            "os.rename('/mnt/data/sub', '/mnt/data/sub-real')\nos.symlink(%r, '/mnt/data/sub')\nNone") % (
        SECRET_FILE, os.path.dirname(SECRET_FILE))
    status, r = await owui.call("execute_python", {"code": swap}, chat="chat-a", user="alice")
    assert r["status"] == "ok" and [f["name"] for f in r["files"]] == ["sub-real/data.txt"], r
    secret = open(SECRET_FILE, "rb").read()
    for url in urls.values():
        status, _, data = await fetch(session, url)
        assert status == 404 and secret not in data, (url, status, data[:100])
    check("a symlink to a host file in the workspace is never listed or downloaded")

    # File names are bytes: a backslash, bytes that are not UTF-8, and two names that decode to the same text
    odd = [(b"odd/..\\..\\win.txt", b"backslashes"), (b"odd/col\xff.txt", b"a byte that is not UTF-8"),
           (b"odd/col\xef\xbf\xbd.txt", b"U+FFFD itself"), (b"odd/dir\xfe/inner.txt", b"in a directory not UTF-8")]
    make = ("import os\nfor name, data in %r:\n    path = b'/mnt/data/' + name\n"
            "    os.makedirs(os.path.dirname(path), exist_ok=True)\n    open(path, 'wb').write(data)\nNone") % (odd,)
    status, r = await owui.call("execute_python", {"code": make}, chat="chat-a", user="alice")
    assert r["status"] == "ok" and len(r["files"]) == 4, r
    assert "odd/..\\..\\win.txt" in [f["name"] for f in r["files"]], r["files"]
    assert len({f["url"] for f in r["files"]}) == 4, r["files"]
    served = set()
    for f in r["files"]:
        status, _, data = await fetch(session, f["url"])
        assert status == 200 and f["size"] == len(data), (f, status, data[:100])
        served.add(data)
    assert served == {data for _, data in odd}, served
    check("every listed file, whatever the bytes of its name, has a link that serves exactly that file")

    status, r = await owui.call("execute_python", {"code": "keep = 1\nprint('partial', flush=True)\n"
                                                            "import time\ntime.sleep(600)"},
                                chat="chat-a", user="alice")
    assert r["status"] == "timeout" and "partial" in r["stdout"] and "time limit" in r["stderr"], r
    status, r = await owui.call("execute_python", {"code": "print(keep, secret)"}, chat="chat-a", user="alice")
    assert r["status"] == "ok" and r["stdout"] == "1 chat-a\n", r
    status, r = await owui.call("execute_bash", {"command": "echo start; sleep 600"}, chat="chat-a", user="alice")
    assert r["status"] == "timeout" and r["stdout"] == "start\n", r
    status, r = await owui.call("execute_bash", {"command": "pwd"}, chat="chat-a", user="alice")
    assert r["stdout"] == "/mnt/data/proj\n", r
    check("a timeout returns the partial output and the chat's kernels keep their state")

    status, r = await owui.call("execute_python", {"code": "print('x' * 3_000_000)\nimport sys\n"
                                                            "print('tail-marker')"}, chat="chat-a", user="alice")
    assert r["status"] == "ok" and len(r["stdout"]) < 70_000, len(r["stdout"])
    assert "truncated" in r["stdout"] and r["stdout"].rstrip().endswith("tail-marker"), r["stdout"][-200:]
    check("stdout is capped with a truncation marker, keeping the head and the tail")

    status, r = await owui.call("execute_python", {"code": "v = 'custom'"},
                                extra={"X-Chat-Id": "custom-1", "X-OpenWebUI-Chat-Id": "{{CHAT_ID}}"})
    status, r = await owui.call("execute_python", {"code": "print(v)"}, extra={"X-Chat-Id": "custom-1"})
    assert r["stdout"] == "custom\n", r
    status, r = await owui.call("execute_python", {"code": "print(v)"}, extra={"X-Chat-Id": "custom-2"})
    assert r["status"] == "error", r
    check("a configured chat header keys the kernel when Open WebUI's is absent or unfilled")

    # the cap is 3 chats per user: a fourth chat makes the least recently used idle one give way
    for chat in ("c1", "c2", "c3", "c4"):
        status, r = await owui.call("execute_python", {"code": "mark = %r" % chat}, chat=chat, user="bob")
        assert status == 200 and r["status"] == "ok", r
    status, r = await owui.call("execute_python", {"code": "print(mark)"}, chat="c1", user="bob")
    assert r["status"] == "error" and "NameError" in r["stderr"], r
    status, r = await owui.call("execute_python", {"code": "print(mark)"}, chat="c4", user="bob")
    assert r["stdout"] == "c4\n", r
    check("a user's chats beyond the cap make the least recently used one give way")

    # chats that name no user count as one user: leaving the user id out skips no cap
    for chat in ("n1", "n2", "n3", "n4"):
        status, r = await owui.call("execute_python", {"code": "mark = %r" % chat}, chat=chat)
        assert status == 200 and r["status"] == "ok", r
    status, r = await owui.call("execute_python", {"code": "print(mark)"}, chat="n1")
    assert r["status"] == "error" and "NameError" in r["stderr"], r
    status, r = await owui.call("execute_python", {"code": "print(mark)"}, chat="n4")
    assert r["stdout"] == "n4\n", r
    check("chats without a user id share one cap")

    for body, why in ((b"not json", "valid JSON"), (b"[1]", "JSON object"), (b'{"code": 5}', "string"),
                      (b"{}", "JSON object")):
        async with session.post(BASE + "/tools/execute_python", data=body,
                                headers={"Authorization": "Bearer " + KEY,
                                         "Content-Type": "application/json"}) as resp:
            err = await resp.json(content_type=None)
            assert resp.status == 400 and why in err["message"], (body, resp.status, err)
    check("bad bodies get 400 with a clear message")

    await asyncio.sleep(float(os.environ.get("ARTIFACT_TTL", "8")) + 1)
    status, _, _ = await fetch(session, image_url)
    assert status == 404, status
    check("image links expire")


if __name__ == "__main__":
    started = time.time()
    asyncio.run(main())
    print("done in %.1f s" % (time.time() - started))
