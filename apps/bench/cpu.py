"""What a request costs the web process in CPU, through the whole middleware stack.

Wall time on a machine shared with other work measures the queue for a core as much as the
work; CPU time of this process does not. Each path is asked in process (Django's test client:
every middleware, the view, the renderer; no uvicorn or nginx, which every path pays alike),
warm, one request after another, and charged the process's CPU seconds (`process_time`) per
request. PostgreSQL's and Redis's own CPU is theirs and not counted; the round trips' waits
are not CPU either.
"""

import cProfile
import pstats
import time
from typing import Any

from django.test import Client

WARM_UP = 50


def cpu_per_request(
    host: str, paths: dict[str, tuple[str, dict[str, str]]], requests: int
) -> dict[str, Any]:
    """name → {cpu_us, wall_us, non_200}; `paths` maps a name to (path, extra headers). The
    first path is the baseline each other's `cpu_x_baseline` is measured against."""
    measured: dict[str, Any] = {}
    for name, (path, headers) in paths.items():
        client = Client()
        extra: dict[str, Any] = {"HTTP_HOST": host, "REMOTE_ADDR": "127.0.0.1", **headers}
        for _ in range(WARM_UP):
            client.get(path, **extra)
        failures = 0
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(requests):
            failures += client.get(path, **extra).status_code != 200
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        measured[name] = {
            "cpu_us": round(cpu / requests * 1e6),
            "wall_us": round(wall / requests * 1e6),
            "non_200": failures,
        }
    baseline = measured[next(iter(paths))]["cpu_us"]
    for row in measured.values():
        row["cpu_x_baseline"] = round(row["cpu_us"] / baseline, 2)
    return {"requests": requests, "paths": measured}


def profile_requests(
    host: str, path: str, headers: dict[str, str], requests: int, top: int = 25
) -> dict[str, list[dict[str, Any]]]:
    """`path`'s warm requests under cProfile, timed by this process's CPU clock: the `top`
    functions by cumulative time (what a call costs with everything below it) and by own time
    (where the CPU actually goes), each in µs a request and as a share of the whole request."""
    client = Client()
    extra: dict[str, Any] = {"HTTP_HOST": host, "REMOTE_ADDR": "127.0.0.1", **headers}
    for _ in range(WARM_UP):
        client.get(path, **extra)
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(requests):
        client.get(path, **extra)
    profiler.disable()
    stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    functions = [
        (_name(where), own, cumulative)
        for where, (_, _, own, cumulative, _) in stats.items()
        if where[0] != "~" or "profiler" not in where[2]
    ]
    whole = max(cumulative for _, _, cumulative in functions) or 1.0

    def row(name: str, seconds: float) -> dict[str, Any]:
        return {
            "function": name,
            "us": round(seconds / requests * 1e6),
            "share": round(seconds / whole, 3),
        }

    by_cumulative = sorted(functions, key=lambda f: f[2], reverse=True)[:top]
    by_own = sorted(functions, key=lambda f: f[1], reverse=True)[:top]
    return {
        "cumulative": [row(name, cumulative) for name, _, cumulative in by_cumulative],
        "own": [row(name, own) for name, own, _ in by_own],
    }


def _name(where: tuple[str, int, str]) -> str:
    filename, line, function = where
    for marker in ("site-packages/", "/apps/", "/mymedic/"):
        if marker in filename:
            filename = marker.strip("/") + "/" + filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({function})" if line else function
