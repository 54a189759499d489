"""CPU spent by whole process trees over a block (Linux /proc), so a benchmark can say where a
request's cost goes across the processes that serve it: the web workers, nginx, the Celery
worker, PostgreSQL, Redis and the load generator itself.

A tree's CPU is, over its live processes, each one's user + system time plus what its exited
and waited-for children spent (`cutime` + `cstime`): a backend or pool process that ends
during the block still counts, once, in its parent's figure.
"""

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (field 3 onwards), or None when
    the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one running process (its own, not its children's)."""
    fields = _stat(pid)
    if fields is None:
        raise ProcessLookupError(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (every thread's children, by a look at /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def tree_cpu(root: int) -> float:
    """CPU of `root` and every descendant, live or exited and waited for."""
    parents: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or (fields := _stat(int(entry.name))) is None:
            continue
        pid = int(entry.name)
        parents.setdefault(int(fields[1]), []).append(pid)
        times[pid] = sum(int(value) for value in fields[11:15]) / TICKS
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo += parents.get(pid, [])
    return total


@contextmanager
def cpu_split(trees: Mapping[str, int], units: int | None = None) -> Iterator[dict[str, float]]:
    """Over the block, the CPU seconds of each named process tree and of this process (the
    load generator, `"bench"`), with the wall time; `split` is filled in when the block ends.
    With `units`, also each figure in milliseconds a unit (`"<name>_ms"`)."""
    split: dict[str, float] = {}
    before = {name: tree_cpu(pid) for name, pid in trees.items()}
    own, wall = time.process_time(), time.perf_counter()
    try:
        yield split
    finally:
        for name, pid in trees.items():
            split[name] = round(tree_cpu(pid) - before[name], 3)
        split["bench"] = round(time.process_time() - own, 3)
        split["wall"] = round(time.perf_counter() - wall, 3)
        spent = sum(value for name, value in split.items() if name != "wall")
        split["all"] = round(spent, 3)
        split["cores_busy"] = round(spent / split["wall"], 2) if split["wall"] else 0.0
        if units:
            for name in [*trees, "bench", "all"]:
                split[f"{name}_ms"] = round(split[name] / units * 1000, 2)


def postgres_pid() -> int:
    """The PostgreSQL postmaster this process's database connection is served by."""
    from apps.core.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    fields = _stat(backend)
    if fields is None:
        raise ProcessLookupError(backend)
    return int(fields[1])


def redis_pid() -> int:
    """The Redis server of the default cache."""
    from django_redis import get_redis_connection

    return int(get_redis_connection("default").info("server")["process_id"])


def idle(root: int, seconds: float = 0.5, below: float = 0.03) -> bool:
    """Whether the tree of `root` spent (almost) no CPU over `seconds`."""
    before = tree_cpu(root)
    time.sleep(seconds)
    return tree_cpu(root) - before < below
