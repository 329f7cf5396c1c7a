"""The case runner of the attack suites (adversarial.py, egress.py): each case is a function run once, at
definition; it holds unless it raises. Prints "PASS <case>" or "FAIL <case>: why" per case, and a summary
line "<n> cases, <m> held" from finish(), which exits 1 if any failed."""
import sys
import traceback

_names = []
_failures = []


def case(name):
    def wrap(fn):
        _names.append(name)
        try:
            fn()
            print("PASS", name, flush=True)
        except Exception:
            _failures.append(name)
            print("FAIL", name + ":", traceback.format_exc().strip().replace("\n", " | "), flush=True)
        return fn
    return wrap


def finish():
    print("%d cases, %d held" % (len(_names), len(_names) - len(_failures)), flush=True)
    sys.exit(1 if _failures else 0)
