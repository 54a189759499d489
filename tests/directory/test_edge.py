"""The edge: nginx's configuration from the directory, and its reload when the directory
changes (a burst of changes is one reload)."""

import io
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from apps.directory.models import TenantLocation
from mymedic.edge import host_map_text, write_host_map
from tests.conftest import subprocess_env
from tests.servers import free_port, healthz, stop, wait_until

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx", path="/usr/sbin:/usr/bin") or "nginx"
CELLS = {
    "in-1": {"region": "in", "url": "http://127.0.0.1:8101", "capacity": 5},
    "gcc-1": {"region": "gcc", "url": "http://127.0.0.1:8201", "capacity": 5},
}


def test_the_host_map_sends_each_host_to_its_cell_s_upstream() -> None:
    with override_settings(MYMEDIC_CELLS=CELLS):
        text = host_map_text(
            [("a.localhost", "in-1"), ("b.localhost", "gcc-1"), ("c.localhost", "gone")]
        )

    assert text.splitlines()[1:] == ["a.localhost cell_in_1;", "b.localhost cell_gcc_1;"]


def test_the_host_map_file_is_rewritten_only_when_it_changes(tmp_path: Path) -> None:
    pairs = [("a.localhost", "local")]

    assert write_host_map(tmp_path, pairs) is True
    assert write_host_map(tmp_path, pairs) is False
    assert write_host_map(tmp_path, [*pairs, ("b.localhost", "local")]) is True
    assert "b.localhost cell_local;" in (tmp_path / "hosts.map").read_text()


def test_the_edge_configuration_is_valid_nginx_with_a_cell_upstream_each(
    db: None, tmp_path: Path, settings: Any
) -> None:
    tmp_path.chmod(0o755)
    settings.STATIC_ROOT = str(tmp_path / "static")
    settings.MYMEDIC_CELLS = CELLS
    TenantLocation.objects.create(slug="dune", region="gcc", cell="gcc-1", hosts=["dune.localhost"])
    out = io.StringIO()

    call_command("edge", "--port", str(free_port()), "--dir", str(tmp_path / "edge"),
                 "--write-only", stdout=out)  # fmt: skip

    conf = Path(out.getvalue().strip())
    text = conf.read_text()
    assert "upstream cell_in_1 {\n        server 127.0.0.1:8101;" in text
    assert "upstream cell_gcc_1 {\n        server 127.0.0.1:8201;" in text
    assert "default cell_in_1;" in text  # the public site and unknown hosts: the first cell
    assert "location /internal/ {" in text
    assert "dune.localhost cell_gcc_1;" in (tmp_path / "edge" / "hosts.map").read_text()
    checked = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True)  # noqa: S603
    assert checked.returncode == 0, checked.stderr


@pytest.fixture
def edge(django_db_setup: Any, django_db_blocker: Any, tmp_path: Path) -> Iterator[Path]:
    """`manage.py edge` on the test database in front of one web server, its log's path;
    the directory rows a test commits (slugs starting `edge-`) are removed after it."""
    tmp_path.chmod(0o755)
    log = tmp_path / "edge.log"
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:mymedic.gunicorn"],
        env=subprocess_env(MYMEDIC_WEB_BIND=f"127.0.0.1:{(web_port := free_port())}",
                           MYMEDIC_WEB_WORKERS="1"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    port = free_port()
    cells = f'{{"local": {{"region": "in", "url": "http://127.0.0.1:{web_port}", "capacity": 9}}}}'
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "edge", "--port", str(port), "--dir",
             str(tmp_path / "edge")],
            cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
            env=subprocess_env(MYMEDIC_STATIC_ROOT=str(tmp_path / "static"),
                               MYMEDIC_CELLS_JSON=cells, MYMEDIC_EDGE_DEBOUNCE_SECONDS="0.5"),
        )  # fmt: skip
    try:
        wait_until(lambda: healthz(port) == 200, 60, "the edge and the web server")
        yield tmp_path
    finally:
        stop(process, 30)
        stop(web, 30)
        with django_db_blocker.unblock():
            TenantLocation.objects.filter(slug__startswith="edge-").delete()


@pytest.mark.timing
def test_a_burst_of_directory_changes_is_one_graceful_reload(
    edge: Path, django_db_blocker: Any
) -> None:
    slugs = [f"edge-{n}" for n in range(5)]
    started = time.monotonic()
    with django_db_blocker.unblock():
        for slug in slugs:  # five commits, 50 ms apart: inside one debounce window
            TenantLocation.objects.create(
                slug=slug, region="in", cell="local", hosts=[f"{slug}.localhost"]
            )
            time.sleep(0.05)
    hosts_map = edge / "edge" / "hosts.map"
    wait_until(lambda: "edge-4.localhost" in hosts_map.read_text(), 10, "the map to be rewritten")
    seconds = time.monotonic() - started
    time.sleep(1)  # a second reload, if any, would come within the debounce window

    assert all(f"{slug}.localhost cell_local;" in hosts_map.read_text() for slug in slugs)
    assert (edge / "edge.log").read_text().count("edge reloaded") == 1
    assert seconds < 5, seconds
