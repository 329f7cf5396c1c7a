"""Writes the notebook nbclient and `jupyter execute` run against the sandboxed kernel."""
import sys

import nbformat

cells = [
    "print('hello from the sandbox')",
    "6 * 7",
    "import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': [3, 4]})",
    "import matplotlib.pyplot as plt\nplt.plot([1, 4, 9])\nplt.show()",
    "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    print('caught', e)\nraise ValueError('boom')",
    "answer = input('answer? ')",
    "state = 'kept'",
    "print(state)",
]
nb = nbformat.v4.new_notebook()
nb.metadata["kernelspec"] = {"name": sys.argv[2], "display_name": "Python 3 (gVisor sandbox)", "language": "python"}
nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
nb.cells[4].metadata["tags"] = ["raises-exception"]
nb.cells[5].metadata["tags"] = ["raises-exception"]  # nbclient offers no stdin, as in Jupyter
nbformat.write(nb, sys.argv[1])
