"""gunicorn's settings for the web process (`gunicorn -c python:mymedic.gunicorn`).

MYMEDIC_WEB_WORKERS worker processes (default: one per core), each an event loop
(mymedic/webworker.py). SIGTERM, and the rolling restart of SIGHUP, let requests in
progress finish for up to MYMEDIC_WEB_GRACEFUL_SECONDS before a worker is killed.
"""

import os

wsgi_app = "mymedic.asgi:application"
bind = [os.environ.get("MYMEDIC_WEB_BIND", "127.0.0.1:8001")]
workers = int(os.environ.get("MYMEDIC_WEB_WORKERS") or os.cpu_count() or 1)
worker_class = "mymedic.webworker.WebWorker"
graceful_timeout = int(os.environ.get("MYMEDIC_WEB_GRACEFUL_SECONDS", "30"))
# A worker that misses its heartbeat this long (a blocked event loop) is replaced.
timeout = 60
# Idle keep-alive of the proxy's connections: nginx keeps them for reuse and drops them
# sooner (mymedic/proxy.py UPSTREAM_KEEPALIVE_SECONDS), so it never reuses a closing one.
keepalive = 5
# Only the proxy connects: no X-Forwarded-* is believed at this layer.
forwarded_allow_ips = ""
accesslog = None
errorlog = "-"
loglevel = os.environ.get("MYMEDIC_WEB_LOGLEVEL", "info")
proc_name = "mymedic-web"
# Signals are the interface (SIGTERM, SIGHUP); no control socket shared in $HOME.
control_socket_disable = True
