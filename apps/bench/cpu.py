"""What a request costs the web process in CPU, through the whole middleware stack.

Wall time on a machine shared with other work measures the queue for a core as much as the
work; CPU time of this process does not. Each path is asked in process (Django's test client:
every middleware, the view, the renderer; no uvicorn or nginx, which every path pays alike),
warm, one request after another, and charged the process's CPU seconds (`process_time`) per
request. PostgreSQL's and Redis's own CPU is theirs and not counted; the round trips' waits
are not CPU either.
"""

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
