"""Executes the notebook with nbclient and checks every output cell."""
import sys

import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=120, startup_timeout=120, kernel_name=sys.argv[2]).execute()
out = nb.cells


def text(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def errors(cell):
    return [o for o in cell.outputs if o.output_type == "error"]


assert text(out[0]) == "hello from the sandbox\n", out[0].outputs
assert out[1].outputs[0]["data"]["text/plain"] == "42", out[1].outputs
assert "text/html" in out[2].outputs[0]["data"], out[2].outputs
pngs = [o for o in out[3].outputs if "image/png" in o.get("data", {})]
assert pngs and "\n" not in pngs[0]["data"]["image/png"], out[3].outputs
assert "caught division by zero" in text(out[4]), out[4].outputs
assert errors(out[4])[0].ename == "ValueError" and errors(out[4])[0].traceback, out[4].outputs
assert errors(out[5])[0].ename == "StdinNotImplementedError", out[5].outputs
assert text(out[7]) == "kept\n", out[7].outputs
print("PASS nbclient notebook: print, result, DataFrame html, matplotlib png, errors, input(), state")
