"""The benches' CPU accounting by process tree (apps/bench/procs.py): a child's CPU counts
in its parent's tree while it runs and after it has exited, once, and not in another tree."""

import subprocess
import sys

from apps.bench.procs import cpu_split, tree_cpu

# A parent that starts a child spinning for `seconds` of CPU, waits for it, then sleeps until
# its standard input closes: the child's CPU is then only in the parent's reaped children.
PARENT = """
import subprocess, sys
subprocess.run([sys.executable, "-c", '''
import time
end = time.process_time() + float(__import__("sys").argv[1])
while time.process_time() < end:
    pass
''', sys.argv[1]], check=True)
print("spun", flush=True)
sys.stdin.read()
"""


def test_an_exited_childs_cpu_counts_once_in_its_parents_tree() -> None:
    with (
        subprocess.Popen(  # noqa: S603  (our own interpreter)
            [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
        ) as idle,
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", PARENT, "0.4"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as parent,
    ):
        # Leaving the block closes their standard input (they end) and waits for them.
        with cpu_split({"parent": parent.pid, "idle": idle.pid}, units=4) as split:
            assert parent.stdout is not None
            assert parent.stdout.readline() == "spun\n"
        again = tree_cpu(parent.pid)

    # The child spun 0.4 s and exited before the block ended; the parent's own start-up is
    # at most a fraction of a second on top.
    assert 0.38 <= split["parent"] < 1.5
    assert split["idle"] < 0.05
    assert split["parent_ms"] == round(split["parent"] / 4 * 1000, 2)
    assert split["all"] == round(split["parent"] + split["idle"] + split["bench"], 3)
    # Read again later, the exited child is still counted, and not twice.
    assert again < split["parent"] + 0.2
