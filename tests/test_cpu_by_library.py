"""scripts/cpu_by_library.py reads perf's report into CPU per library (perf itself is not needed here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "scripts" / "cpu_by_library.py"
spec = importlib.util.spec_from_file_location("cpu_by_library", SCRIPT)
assert spec is not None and spec.loader is not None
cpu_by_library = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cpu_by_library)

REPORT = """\
# To display the perf.data header info, please use --header/--header-only options.
#
# Samples: 9K of event 'cpu-clock:ppp'
# Overhead  Shared Object
# ........  ..........................................
#
    54.09%  libpython3.11.so.1.0
    27.26%  [kernel.kallsyms]
     6.33%  loop.cpython-311-x86_64-linux-gnu.so
     3.95%  picows.cpython-311-x86_64-linux-gnu.so
     1.62%  _twilio.cpython-311-x86_64-linux-gnu.so
     0.21%  [vdso]
"""


def test_perfs_report_is_read_into_shares_per_library():
    shares = cpu_by_library.parse_report(REPORT)
    assert shares == {
        "Python interpreter": 54.09,
        "kernel": 27.26,
        "loop": 6.33,
        "picows": 3.95,
        "_twilio": 1.62,
        "[vdso]": 0.21,
    }
