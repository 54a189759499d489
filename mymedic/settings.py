"""MyMedic settings: one module, configured from the environment (12-factor).

Every value has a default that suits the embedded local set-up of `make run` / `make test`;
production overrides them through environment variables (see README).
"""

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def redis_db_url(url: str, db: int) -> str:
    """The same Redis server as `url`, database number `db`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


# Every deployment safeguard is on and real secrets are required unless MYMEDIC_ENV=local is
# set explicitly (make run / make test do): a forgotten variable fails closed, never open.
LOCAL = os.environ.get("MYMEDIC_ENV", "") == "local"
PRODUCTION = not LOCAL
DEBUG = env_bool("MYMEDIC_DEBUG", LOCAL)
SECRET_KEY = os.environ.get("MYMEDIC_SECRET_KEY", "local-development-only-not-a-secret")


def refuse_local_defaults() -> None:
    """Outside MYMEDIC_ENV=local, settings that only suit a developer's machine stop start-up."""
    problems = []
    if DEBUG:
        problems.append("MYMEDIC_DEBUG is on (it shows settings and code to any visitor)")
    if SECRET_KEY.startswith("local-"):
        problems.append("MYMEDIC_SECRET_KEY is not set")
    if not os.environ.get("MYMEDIC_MASTER_KEY"):
        problems.append("MYMEDIC_MASTER_KEY is not set (32 random bytes, base64url)")
    if not os.environ.get("MYMEDIC_AUDIT_ANCHOR_KEY"):
        problems.append("MYMEDIC_AUDIT_ANCHOR_KEY is not set (32 random bytes, base64url)")
    if not os.environ.get("MYMEDIC_KEYSTORE_DIR"):
        problems.append(
            "MYMEDIC_KEYSTORE_DIR is not set (the tenants' key secrets: a volume kept apart "
            "from the database and its backups; losing it loses every tenant's patient data)"
        )
    if not os.environ.get("MYMEDIC_NOTIFY_SMS_URL"):
        problems.append(
            "MYMEDIC_NOTIFY_SMS_URL is not set (the file backend writes codes in clear)"
        )
    if problems:
        raise ImproperlyConfigured(
            "Refusing to start with local defaults ("
            + "; ".join(problems)
            + "). Set them, or MYMEDIC_ENV=local on a development machine."
        )


if PRODUCTION:
    refuse_local_defaults()

# Public site on the base domain; tenant `slug` on `{slug}.{BASE_DOMAIN}`.
BASE_DOMAIN = os.environ.get("MYMEDIC_BASE_DOMAIN", "localhost").lower()
ALLOWED_HOSTS = [BASE_DOMAIN, f".{BASE_DOMAIN}"]

# Under ASGI every request runs in a fresh context, so Django's persistent connections are
# never reused and each request would open its own PostgreSQL connection (measured: one per
# request, ~5 ms). A psycopg pool per process keeps them open instead; its size bounds what
# one process may hold. MYMEDIC_DB_POOL=0 falls back to per-request connections (e.g. when
# PgBouncer pools in front).
DB_POOL = env_bool("MYMEDIC_DB_POOL", True)


def database_from_url(url: str, **options: Any) -> dict[str, Any]:
    """dj-database-url's settings, and libpq's list of hosts, which it does not parse:
    `postgres://user@h1:p1,h2:p2/db?target_session_attrs=read-write` connects to whichever
    server takes writes, so after a standby is promoted (docs/OPERATIONS.md, failover) new
    connections find it without a change of settings."""
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if "," not in hosts:
        return dict(dj_database_url.parse(url, **options))
    servers = [
        server.rpartition(":") if ":" in server else (server, "", "") for server in hosts.split(",")
    ]
    first = parts._replace(netloc=f"{userinfo}{at}{hosts.split(',')[0]}")
    parsed = dict(dj_database_url.parse(urlunsplit(first), **options))
    parsed["HOST"] = ",".join(host for host, _, _ in servers)
    parsed["PORT"] = ",".join(port or "5432" for _, _, port in servers)
    return parsed


DATABASES = {
    "default": database_from_url(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mymedic"),
        engine="mymedic.postgres",
        conn_max_age=0 if DB_POOL else int(os.environ.get("MYMEDIC_DB_CONN_MAX_AGE", "60")),
        # With the pool this makes Django give psycopg_pool `check=check_connection`: a pooled
        # connection is tried before it is handed out, so after a PostgreSQL restart the first
        # requests get fresh connections instead of dead ones (docs/FAULT-DOMAINS.md).
        conn_health_checks=True,
    )
}
if DB_POOL:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(os.environ.get("MYMEDIC_DB_POOL_MIN", "1")),
        "max_size": int(os.environ.get("MYMEDIC_DB_POOL_MAX", "8")),
        "timeout": float(os.environ.get("MYMEDIC_DB_POOL_TIMEOUT", "10")),
    }
# Cells (docs/adr/0006-cells-and-directory.md): a cell is one PostgreSQL database with its own
# Redis and processes; a region is a set of cells. MYMEDIC_CELL names this process's cell;
# MYMEDIC_CELLS_JSON maps each cell to {"region", "database_url", "url" (its own base URL on
# loopback, for cell-internal calls), "capacity" (tenants)}. Default: one cell on this database.
MYMEDIC_CELL = os.environ.get("MYMEDIC_CELL", "local")
MYMEDIC_CELLS: dict[str, dict[str, object]] = json.loads(
    os.environ.get("MYMEDIC_CELLS_JSON", "null")
) or {
    MYMEDIC_CELL: {
        "region": "in",
        "database_url": os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mymedic"
        ),
        "url": f"http://127.0.0.1:{os.environ.get('PORT', '8000')}",
        "capacity": int(os.environ.get("MYMEDIC_CELL_CAPACITY", "10000")),
    }
}
if MYMEDIC_CELL not in MYMEDIC_CELLS:
    raise ImproperlyConfigured(f"MYMEDIC_CELL={MYMEDIC_CELL} is not in MYMEDIC_CELLS_JSON")
# Cells call each other's internal endpoints (forwarded sign-ups) with this shared secret;
# empty turns those endpoints off. Never routed by the edge.
MYMEDIC_CELL_SECRET = os.environ.get("MYMEDIC_CELL_SECRET") or (
    hashlib.sha256(f"cell-secret:{SECRET_KEY}".encode()).hexdigest() if LOCAL else ""
)
# The cell that serves the public site and the directory API behind the edge (the first
# configured when empty); and how long the edge waits for the directory to stay quiet before
# it rewrites its host map and reloads (mymedic/edge.py).
MYMEDIC_DIRECTORY_CELL = os.environ.get("MYMEDIC_DIRECTORY_CELL", "")
MYMEDIC_EDGE_DEBOUNCE_SECONDS = float(os.environ.get("MYMEDIC_EDGE_DEBOUNCE_SECONDS", "0.5"))
# The global directory (slug -> region -> cell): its own database when
# MYMEDIC_DIRECTORY_DATABASE_URL names another one, else this cell's database, where the
# router uses the default connection itself (one transaction with the tenant's rows).
MYMEDIC_DIRECTORY_SHARED = os.environ.get("MYMEDIC_DIRECTORY_DATABASE_URL") in (
    None,
    "",
    os.environ.get("DATABASE_URL"),
)
DATABASES["directory"] = (
    {**DATABASES["default"], "TEST": {"MIRROR": "default"}}
    if MYMEDIC_DIRECTORY_SHARED
    else database_from_url(
        os.environ["MYMEDIC_DIRECTORY_DATABASE_URL"],
        engine="mymedic.postgres",
        conn_max_age=0,
        conn_health_checks=True,
    )
)
# A read-only standby for read-mostly work (reports, exports: apps/core/replica.py,
# docs/OPERATIONS.md "Reading from the standby"); the primary is read when it is unset, or when
# the standby is more than MYMEDIC_REPLICA_MAX_LAG_SECONDS behind.
MYMEDIC_REPLICA_URL = os.environ.get("MYMEDIC_REPLICA_URL", "")
MYMEDIC_REPLICA_MAX_LAG_SECONDS = float(os.environ.get("MYMEDIC_REPLICA_MAX_LAG_SECONDS", "30"))
if MYMEDIC_REPLICA_URL:
    DATABASES["replica"] = database_from_url(
        MYMEDIC_REPLICA_URL,
        engine="mymedic.postgres",
        conn_max_age=int(os.environ.get("MYMEDIC_DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
    DATABASES["replica"]["OPTIONS"] = {
        "options": "-c default_transaction_read_only=on",
        "connect_timeout": 5,  # a standby that does not answer is skipped, not waited for
    }
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = (
    "apps.directory.router.DirectoryRouter",
    "apps.core.replica.ReplicaRouter",
    "django_tenants.routers.TenantSyncRouter",
)
# A cell's local files (warehouse, outbox, mail, audit anchors) stay with the cell (residency):
# the default cell keeps them in the local folder, any other under cells/<name>/ in it.
CELL_FILES = Path(os.environ.get("MYMEDIC_LOCAL_DIR") or BASE_DIR / ".local")
if MYMEDIC_CELL != "local":
    CELL_FILES = CELL_FILES / "cells" / MYMEDIC_CELL
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Wraps every tenant's key (envelope encryption of PHI): 32 random bytes, base64url.
# The default is derived from the local SECRET_KEY and is for development only.
MYMEDIC_MASTER_KEY = (
    os.environ.get("MYMEDIC_MASTER_KEY")
    or base64.urlsafe_b64encode(
        hashlib.sha256(f"master-key:{SECRET_KEY}".encode()).digest()
    ).decode()
)
# The audit chain's head is signed with this key (32 bytes, base64url; never stored in the
# database) and appended to a write-once file per tenant under MYMEDIC_AUDIT_ANCHOR_DIR.
MYMEDIC_AUDIT_ANCHOR_KEY = (
    os.environ.get("MYMEDIC_AUDIT_ANCHOR_KEY")
    or base64.urlsafe_b64encode(
        hashlib.sha256(f"audit-anchor:{SECRET_KEY}".encode()).digest()
    ).decode()
)
MYMEDIC_AUDIT_ANCHOR_DIR = os.environ.get(
    "MYMEDIC_AUDIT_ANCHOR_DIR",
    f"{CELL_FILES}/audit-anchors",
)
MYMEDIC_AUDIT_ANCHOR_SECONDS = int(os.environ.get("MYMEDIC_AUDIT_ANCHOR_SECONDS", "600"))
# Archived months of each tenant's event log and audit trail (apps.archive): gzip NDJSON and
# a signed manifest per partition, under <dir>/<schema>/<table>/.
MYMEDIC_ARCHIVE_DIR = os.environ.get("MYMEDIC_ARCHIVE_DIR", f"{CELL_FILES}/archive")
# Months of live log kept when a tenant has neither a plan nor an override (at least 36).
MYMEDIC_LOG_RETENTION_MONTHS = int(os.environ.get("MYMEDIC_LOG_RETENTION_MONTHS", "36"))
# Rows of a log partition per archive chunk: each chunk is exported, re-read and checkpointed
# on its own, so an archive step fits a task time limit and a killed run resumes.
MYMEDIC_ARCHIVE_CHUNK_ROWS = int(os.environ.get("MYMEDIC_ARCHIVE_CHUNK_ROWS", "100000"))
# Days the HL7 message store keeps messages live (`hl7_purge`; the archive moves out the
# months of the partitioned store older than this once all their messages are applied).
MYMEDIC_HL7_RETENTION_DAYS = int(os.environ.get("MYMEDIC_HL7_RETENTION_DAYS", "90"))
# Where pg_dump and pg_restore live for tenant backups (the newest /usr/lib/postgresql/*/bin
# when empty); scripts/backup.sh reads the same variable.
MYMEDIC_PG_BIN = os.environ.get("MYMEDIC_PG_BIN", "")
# Master keys being rotated away from (comma-separated): opened but never used to wrap; remove
# them once `manage.py rotate_keys --master` has re-wrapped every tenant's key.
MYMEDIC_MASTER_KEYS_RETIRED = [
    key for key in os.environ.get("MYMEDIC_MASTER_KEYS_RETIRED", "").split(",") if key.strip()
]
# The key store (apps/core/keystore.py): each tenant's secret that wraps its keys with the
# master key, outside the database and its backups; erasing a tenant destroys its entry. Shared
# by a region's cells (not per cell); in production a secret volume or KMS-backed mount.
MYMEDIC_KEYSTORE_DIR = os.environ.get("MYMEDIC_KEYSTORE_DIR", str(BASE_DIR / ".local" / "keystore"))
# A closed tenant is erased this many days after its close (its owner may still export until
# then); `manage.py tenant_close --erase-now` erases at once (apps/lifecycle).
MYMEDIC_CLOSED_TENANT_ERASE_DAYS = int(os.environ.get("MYMEDIC_CLOSED_TENANT_ERASE_DAYS", "30"))
# FHIR bulk export files (sealed NDJSON), one folder per tenant schema (docs/FHIR.md).
MYMEDIC_FHIR_EXPORT_DIR = os.environ.get("MYMEDIC_FHIR_EXPORT_DIR", f"{CELL_FILES}/fhir-exports")
# A running export's task is sent again when polled after this long (its message may be lost).
MYMEDIC_FHIR_EXPORT_REQUEUE_SECONDS = int(
    os.environ.get("MYMEDIC_FHIR_EXPORT_REQUEUE_SECONDS", "30")
)
# Where `manage.py tenant_backup` writes when not told (per cell: backups stay in the region).
MYMEDIC_BACKUP_DIR = os.environ.get("MYMEDIC_BACKUP_DIR", f"{CELL_FILES}/backups/tenants")
# Analytical warehouse: chdb://PATH (embedded, default) or clickhouse://HOST:PORT (server).
MYMEDIC_WAREHOUSE_URL = os.environ.get(
    "MYMEDIC_WAREHOUSE_URL",
    f"chdb://{CELL_FILES}/warehouse",
)
# Patient messages: one backend per channel. Locally and in tests every channel writes JSON
# lines under MYMEDIC_NOTIFY_DIR; production points these at real providers.
MYMEDIC_NOTIFY_DIR = os.environ.get("MYMEDIC_NOTIFY_DIR", f"{CELL_FILES}/outbox")
# Tenants' export archives (apps/exports), a folder per schema; encrypted by their owners.
MYMEDIC_EXPORT_DIR = os.environ.get("MYMEDIC_EXPORT_DIR", f"{CELL_FILES}/exports")
MYMEDIC_NOTIFY_BACKENDS: dict[str, dict[str, object]] = {
    channel: {
        "class": "apps.notifications.backends.FileBackend",
        "options": {"directory": MYMEDIC_NOTIFY_DIR},
    }
    for channel in ("sms", "whatsapp", "email")
}
# Real providers by configuration: MYMEDIC_NOTIFY_{SMS,WHATSAPP}_URL (+ _TOKEN) send that
# channel to an HTTPS JSON provider; MYMEDIC_NOTIFY_EMAIL=smtp sends email through Django's
# mail framework (EMAIL_* below).
for _channel in ("sms", "whatsapp"):
    if _url := os.environ.get(f"MYMEDIC_NOTIFY_{_channel.upper()}_URL"):
        MYMEDIC_NOTIFY_BACKENDS[_channel] = {
            "class": "apps.notifications.backends.HttpJsonBackend",
            "options": {
                "url": _url,
                "token": os.environ.get(f"MYMEDIC_NOTIFY_{_channel.upper()}_TOKEN", ""),
                "timeout": float(os.environ.get("MYMEDIC_NOTIFY_HTTP_TIMEOUT", "10")),
            },
        }
if os.environ.get("MYMEDIC_NOTIFY_EMAIL") == "smtp":
    MYMEDIC_NOTIFY_BACKENDS["email"] = {
        "class": "apps.notifications.backends.DjangoEmailBackend",
        "options": {},
    }
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("EMAIL_USE_TLS", "false").lower() == "true"
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "MyMedic <no-reply@localhost>")
# Staff email (invitations, password resets): SMTP in production or with
# MYMEDIC_NOTIFY_EMAIL=smtp; otherwise one file per message under MYMEDIC_MAIL_DIR.
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION or os.environ.get("MYMEDIC_NOTIFY_EMAIL") == "smtp"
    else "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = os.environ.get("MYMEDIC_MAIL_DIR", f"{CELL_FILES}/mail")
# Failed sends retry after 1, 2, 4, … minutes (base doubling) up to this many attempts, then
# land in the dead-letter list. A row still "sending" after MYMEDIC_NOTIFY_STUCK_SECONDS is
# taken for a crashed sender: it is never sent again automatically (unknown outcome).
MYMEDIC_NOTIFY_MAX_ATTEMPTS = int(os.environ.get("MYMEDIC_NOTIFY_MAX_ATTEMPTS", "5"))
MYMEDIC_NOTIFY_RETRY_BASE_SECONDS = int(os.environ.get("MYMEDIC_NOTIFY_RETRY_BASE_SECONDS", "60"))
MYMEDIC_NOTIFY_STUCK_SECONDS = int(os.environ.get("MYMEDIC_NOTIFY_STUCK_SECONDS", "600"))
# Sign-up: the owner confirms the email within MYMEDIC_VERIFY_LINK_DAYS; until then nothing is
# sent to patients, and an unconfirmed tenant is removed after MYMEDIC_UNVERIFIED_TENANT_DAYS.
MYMEDIC_VERIFY_LINK_DAYS = int(os.environ.get("MYMEDIC_VERIFY_LINK_DAYS", "7"))
MYMEDIC_UNVERIFIED_TENANT_DAYS = int(os.environ.get("MYMEDIC_UNVERIFIED_TENANT_DAYS", "7"))
MYMEDIC_SIGNUPS_PER_ADDRESS_HOUR = int(os.environ.get("MYMEDIC_SIGNUPS_PER_ADDRESS_HOUR", "5"))
# Per email domain and day: generous, since many clinics share a mail provider's domain.
MYMEDIC_SIGNUPS_PER_DOMAIN_DAY = int(os.environ.get("MYMEDIC_SIGNUPS_PER_DOMAIN_DAY", "50"))
# Phone messages (SMS + WhatsApp, each) a tenant may send per day through the platform.
MYMEDIC_MESSAGE_DAILY_QUOTA = int(os.environ.get("MYMEDIC_MESSAGE_DAILY_QUOTA", "2000"))
# How long a slot freed by a cancellation is held for the first waitlisted patient.
MYMEDIC_WAITLIST_HOLD_MINUTES = int(os.environ.get("MYMEDIC_WAITLIST_HOLD_MINUTES", "30"))
# The event bus (apps/eventbus; docs/OPERATIONS.md "The event bus"): unset, no relay runs.
# nats://HOST:PORT[,nats://HOST:PORT...] (JetStream) or kafka://HOST:PORT[,HOST:PORT...][?librdkafka
# option=value&...]. The relay publishes every committed event of every tenant of this cell.
MYMEDIC_EVENT_BUS = os.environ.get("MYMEDIC_EVENT_BUS", "")
if MYMEDIC_EVENT_BUS:
    # Appends wake the relay (NOTIFY) only from connections with this on: without a bus, no
    # commit queues on the lock PostgreSQL takes for a notifying commit (eventbus 0004; the
    # name is apps.eventbus.relay.NOTIFY_SETTING, which settings cannot import).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c mymedic.notify_relay=on"
# JetStream stream: replicas (3 on a cluster), how long messages stay, de-duplication window.
MYMEDIC_EVENT_BUS_REPLICAS = int(os.environ.get("MYMEDIC_EVENT_BUS_REPLICAS", "1"))
MYMEDIC_EVENT_BUS_MAX_AGE_DAYS = float(os.environ.get("MYMEDIC_EVENT_BUS_MAX_AGE_DAYS", "7"))
MYMEDIC_EVENT_BUS_DUPLICATE_WINDOW = float(
    os.environ.get("MYMEDIC_EVENT_BUS_DUPLICATE_WINDOW", "600")
)
# Bearer token for /metrics; when unset, /metrics answers 404 to everyone.
MYMEDIC_METRICS_TOKEN = os.environ.get("MYMEDIC_METRICS_TOKEN", "")

SHARED_APPS = [
    "django_tenants",
    "daphne",
    "apps.tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_eventstream",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "apps.core",
    "apps.clinic",
    "apps.directory",
    "apps.plans",
    "apps.lifecycle",
    "django.contrib.admin",  # the platform operator's admin on the public host (apps.plans)
]
# The workload generator and `make bench` are development tools: never installed in production.
if not PRODUCTION:
    SHARED_APPS.append("apps.bench")
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.admin",
    "django.contrib.messages",
    "rest_framework.authtoken",
    "apps.core",
    "apps.eventstore",
    "apps.audit",
    "apps.clinic",
    "apps.scheduling",
    "apps.billing",
    "apps.reconciliation",
    "apps.settlements",
    "apps.reception",
    "apps.notifications",
    "apps.patientapp",
    "apps.setup",
    "apps.exports",
    "apps.metering",
    "apps.fhir",
    "apps.eventbus",
    "apps.archive",
    "apps.integration",
    "apps.queue",
    "apps.board",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
# New tenants are cloned from this fully migrated schema instead of running every migration.
TENANT_BASE_SCHEMA = "tenant_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
# Spare schemas kept ready for sign-ups (apps/tenants/spares.py): a sign-up renames one instead
# of cloning the template, which slows down as the database holds more schemas.
MYMEDIC_SPARE_SCHEMAS = int(os.environ.get("MYMEDIC_SPARE_SCHEMAS", "3"))
# Issue `SET search_path` when the schema changes (or after a rollback), not on every cursor.
TENANT_LIMIT_SET_CALLS = True
PUBLIC_SCHEMA_URLCONF = "mymedic.urls_public"
ROOT_URLCONF = "mymedic.urls_tenant"

MIDDLEWARE = [
    "apps.core.clientip.ClientAddressMiddleware",
    "mymedic.accesslog.AccessLogMiddleware",
    "mymedic.middleware.HealthCheckMiddleware",
    "mymedic.middleware.TenantRoutingMiddleware",
    "mymedic.middleware.TenantMovingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The console's session, user and messages: passed by for token API calls
    # (apps/core/consoleonly.py).
    "apps.core.consoleonly.ConsoleSessionMiddleware",
    "apps.core.sessions.IdleSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "apps.core.consoleonly.ConsoleAuthenticationMiddleware",
    # Before the plan's gate: its "not in your plan" page is in the member's language.
    "apps.clinic.language.StaffLanguageMiddleware",
    "apps.plans.gate.PlanGateMiddleware",
    "apps.core.clinictime.ClinicTimeMiddleware",
    "apps.eventstore.context.RequestOriginMiddleware",
    "apps.core.idempotency.IdempotencyMiddleware",
    "apps.core.consoleonly.ConsoleMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mymedic.csp.CSPMiddleware",  # django-csp's, the policy built once (mymedic/csp.py)
    # Sync-only, so last: under ASGI Django then runs the whole chain in one thread. Below a
    # sync-only middleware, async-capable ones run as coroutines that hop to a thread for each
    # of their hooks (tests/test_read_path.py).
    "apps.audit.middleware.AuditDenialsMiddleware",
]

# Content-Security-Policy: scripts only from our own files (htmx, its extensions, the admin's
# and the console's are all served from `static/`), nothing framed, forms posted only to us or
# to a tenant host (sign-up redirects there). Inline style stays allowed: the admin's and a few
# templates' style attributes, never a script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        # Sign-up posts to the public site, which redirects to the new clinic's own host.
        "form-action": [
            "'self'",
            f"https://*.{BASE_DOMAIN}" if PRODUCTION else f"*.{BASE_DOMAIN}:*",
        ],
    }
}

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # The one rule for times and money (`money`, `clinic_datetime`...) everywhere.
            "builtins": ["apps.core.templatetags.clinic", "apps.billing.templatetags.billing"],
        },
    },
]

ASGI_APPLICATION = "mymedic.asgi.application"
# Request bodies over these caps are refused with 413 before they are read (mymedic/bodylimit.py).
MYMEDIC_MAX_BODY_BYTES = int(os.environ.get("MYMEDIC_MAX_BODY_BYTES", str(1024 * 1024)))
MYMEDIC_MAX_UPLOAD_BYTES = int(os.environ.get("MYMEDIC_MAX_UPLOAD_BYTES", str(10 * 1024 * 1024)))
MYMEDIC_UPLOAD_PATHS = ["/api/v1/reconciliation/settlements/"]
MYMEDIC_UPLOAD_PATHS += [  # gateway reports and bank statements (apps.settlements)
    "/api/v1/settlements/gateway-files/",
    "/api/v1/settlements/bank-statements/",
    "/reception/settlements/",
    "/admin/settlements/importedfile/import/",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = MYMEDIC_MAX_UPLOAD_BYTES

# The reverse proxy in front of the web workers (mymedic/proxy.py, `manage.py proxy`), in
# seconds: deadlines for a client's headers, between two reads of its body, between two
# writes of the answer; idle keep-alive; reads on the live board's streams. Requests in
# progress per client address.
MYMEDIC_PROXY_HEADER_TIMEOUT = int(os.environ.get("MYMEDIC_PROXY_HEADER_TIMEOUT", "10"))
MYMEDIC_PROXY_BODY_TIMEOUT = int(os.environ.get("MYMEDIC_PROXY_BODY_TIMEOUT", "10"))
MYMEDIC_PROXY_SEND_TIMEOUT = int(os.environ.get("MYMEDIC_PROXY_SEND_TIMEOUT", "30"))
MYMEDIC_PROXY_KEEPALIVE_TIMEOUT = int(os.environ.get("MYMEDIC_PROXY_KEEPALIVE_TIMEOUT", "30"))
MYMEDIC_PROXY_KEEPALIVE_REQUESTS = int(os.environ.get("MYMEDIC_PROXY_KEEPALIVE_REQUESTS", "1000"))
MYMEDIC_PROXY_STREAM_TIMEOUT = int(os.environ.get("MYMEDIC_PROXY_STREAM_TIMEOUT", "3600"))
MYMEDIC_PROXY_CONNECTIONS_PER_ADDRESS = int(
    os.environ.get("MYMEDIC_PROXY_CONNECTIONS_PER_ADDRESS", "100")
)

AUTH_USER_MODEL = "clinic.User"
# Django's password check behind the one sign-in lock-out (apps/clinic/signin.py).
AUTHENTICATION_BACKENDS = ["apps.clinic.signin.LockoutBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/reception/"
LOGOUT_REDIRECT_URL = "/login/"

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": redis_db_url(REDIS_URL, 0),
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
    }
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", redis_db_url(REDIS_URL, 1))
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Queues by kind (docs/FAULT-DOMAINS.md): a worker of its own keeps the board's projections
# moving while reports, messages or integrations are slow. Beat's fan-out tasks and upkeep
# use `default`.
CELERY_TASK_DEFAULT_QUEUE = "default"
MYMEDIC_TASK_QUEUES = {
    "projections": ["apps.eventstore.tasks.run_projections", "apps.eventstore.tasks.sweep_tenant"],
    "notifications": [
        "apps.notifications.tasks.dispatch_tenant",
        "apps.patientapp.tasks.send_sign_in_code",
    ],
    "reports": [
        "apps.reconciliation.tasks.close_tenant_days",
        "apps.reconciliation.tasks.export_tenant",
        "apps.exports.tasks.build_export",
        "apps.fhir.tasks.run_bulk_export",
        "apps.archive.tasks.archive_tenant_partitions",
        "apps.lifecycle.tasks.measure_tenant_storage",
        "apps.lifecycle.tasks.erase_closed_tenant",
    ],
    "integration": [
        "apps.integration.tasks.retry_tenant_messages",
        "apps.integration.tasks.send_tenant_outbound",
    ],
}
CELERY_TASK_ROUTES = {
    task: {"queue": queue} for queue, tasks in MYMEDIC_TASK_QUEUES.items() for task in tasks
}
# Declared, so a worker started without -Q (and `celery purge`) takes every queue.
CELERY_TASK_QUEUES = [Queue(name) for name in (CELERY_TASK_DEFAULT_QUEUE, *MYMEDIC_TASK_QUEUES)]
# Time limits (soft, hard) in seconds per queue. At the soft limit the task's tenant boundary
# logs it and leaves the work to the next beat period; at the hard limit the worker kills the
# process. MYMEDIC_TASK_TIME_LIMITS="reports=300/360,default=60/90" overrides.
MYMEDIC_TASK_TIME_LIMITS: dict[str, tuple[int, int]] = {
    "projections": (30, 45),
    "notifications": (60, 90),
    "reports": (300, 360),
    "integration": (120, 150),
    "default": (60, 90),
}
for _item in filter(None, os.environ.get("MYMEDIC_TASK_TIME_LIMITS", "").split(",")):
    _queue, _limits = _item.split("=")
    _soft, _hard = _limits.split("/")
    MYMEDIC_TASK_TIME_LIMITS[_queue.strip()] = (int(_soft), int(_hard))
CELERY_TASK_SOFT_TIME_LIMIT, CELERY_TASK_TIME_LIMIT = MYMEDIC_TASK_TIME_LIMITS["default"]
# A tenant's failed periodic task is retried 3 times, this many seconds × 4^attempt apart.
MYMEDIC_TENANT_RETRY_SECONDS = float(os.environ.get("MYMEDIC_TENANT_RETRY_SECONDS", "10"))
CELERY_TASK_ANNOTATIONS = {
    task: dict(zip(("soft_time_limit", "time_limit"), MYMEDIC_TASK_TIME_LIMITS[queue], strict=True))
    for queue, tasks in MYMEDIC_TASK_QUEUES.items()
    for task in tasks
}
# A message taken by a worker that then dies (SIGKILL, power) goes back to its queue after
# this long: longer than any hard limit, so a task still running is never handed out twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 2 * max(hard for _, hard in MYMEDIC_TASK_TIME_LIMITS.values())
}
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Safety net for projection runs whose trigger message was lost.
    "sweep-projections": {"task": "apps.eventstore.tasks.sweep_projections", "schedule": 30.0},
    "nightly-reconciliation": {
        "task": "apps.reconciliation.tasks.nightly_reconciliation",
        "schedule": 3600.0,
    },
    "warehouse-export": {"task": "apps.reconciliation.tasks.export_warehouse", "schedule": 300.0},
    "purge-idempotency-records": {
        "task": "apps.core.tasks.purge_idempotency_records",
        "schedule": 3600.0,
    },
    # Fans out one task per tenant with messages due (each runs in its tenant's schema).
    "dispatch-notifications": {
        "task": "apps.notifications.tasks.dispatch_all_tenants",
        "schedule": 60.0,
    },
    "expire-slot-holds": {"task": "apps.scheduling.tasks.expire_slot_holds", "schedule": 60.0},
    "reap-unverified-tenants": {
        "task": "apps.tenants.tasks.reap_unverified_tenants",
        "schedule": 3600.0,
    },
    # Trials and grace periods that ended (apps.plans: one task per tenant that is due).
    "advance-subscriptions": {"task": "apps.plans.tasks.advance_subscriptions", "schedule": 3600.0},
    # Last month's statements of paying tenants (apps.plans: one task per tenant not yet billed).
    "issue-statements": {"task": "apps.plans.tasks.issue_statements", "schedule": 86400.0},
    # Closed tenants whose grace ended are erased (apps.lifecycle: one task per tenant due).
    "erase-closed-tenants": {
        "task": "apps.lifecycle.tasks.erase_closed_tenants",
        "schedule": 3600.0,
    },
    # Storage bytes of the tenants whose event log grew since their last measurement.
    "measure-storage": {"task": "apps.lifecycle.tasks.measure_storage", "schedule": 3600.0},
    # Keeps MYMEDIC_SPARE_SCHEMAS spare schemas ready (each sign-up also asks for one).
    # Records tenants whose place the separate directory database lost (two queries).
    "repair-directory": {"task": "apps.tenants.tasks.repair_directory", "schedule": 60.0},
    "top-up-spare-schemas": {
        "task": "apps.tenants.tasks.top_up_spare_schemas",
        "schedule": 300.0,
    },
    # The HL7 error queue's automatic retries, per tenant with a retry due.
    "retry-hl7-messages": {"task": "apps.integration.tasks.retry_hl7_messages", "schedule": 30.0},
    # Outbound SIU due (a retry's time, or rows whose immediate send was lost), per tenant.
    "send-hl7-outbound": {"task": "apps.integration.tasks.send_hl7_outbound", "schedule": 30.0},
    # Log partitions of the months ahead, for tenants whose log grew (apps.archive).
    "make-log-partitions": {"task": "apps.archive.tasks.make_all_partitions", "schedule": 3600.0},
    # Months past a tenant's retention leave for archive files (apps.archive), when due.
    "archive-log-partitions": {
        "task": "apps.archive.tasks.archive_all_partitions",
        "schedule": 86400.0,
    },
    "publish-audit-anchors": {
        "task": "apps.audit.tasks.publish_all_anchors",
        "schedule": float(MYMEDIC_AUDIT_ANCHOR_SECONDS),
    },
}

# Live pushes (Server-Sent Events): workers publish through Redis to the web processes.
_redis = urlsplit(REDIS_URL)
EVENTSTREAM_REDIS = {
    "host": _redis.hostname or "127.0.0.1",
    "port": _redis.port or 6379,
    "db": int((_redis.path or "/0").lstrip("/") or 0),
}
EVENTSTREAM_CHANNELMANAGER_CLASS = "apps.eventstore.live.BranchChannelManager"
# How the (domain-agnostic) event store asks whether a user may see a branch.
MYMEDIC_BRANCH_ACCESS = "apps.clinic.scoping.can_see_branch"
# How the (domain-agnostic) idempotency store learns whose data a response holds.
MYMEDIC_IDEMPOTENCY_SUBJECTS = "apps.scheduling.subjects.patients_named"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.clinic.tokens.StaffTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.core.throttling.UserThrottle",
        "apps.core.throttling.AnonThrottle",
    ],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.core.openapi.ContractSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # The contract speaks JSON; the one file upload (settlements) names its own parsers.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # DRF's negotiation, answered at once for the usual Accept headers (apps/core/api.py).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.core.api.Negotiation",
    "UNAUTHENTICATED_USER": None,
    # `?format=csv` belongs to the report views, not to DRF's renderer switch.
    "URL_FORMAT_OVERRIDE": None,
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(  # type: ignore[attr-defined]
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

# Proxies we run (addresses or CIDRs, comma-separated): only their X-Forwarded-For is believed.
MYMEDIC_TRUSTED_PROXIES = [
    item.strip()
    for item in os.environ.get("MYMEDIC_TRUSTED_PROXIES", "").split(",")
    if item.strip()
]
# Anonymous refusals (403) are security log lines, at most this many per address and minute.
MYMEDIC_DENIAL_LOG_PER_MINUTE = int(os.environ.get("MYMEDIC_DENIAL_LOG_PER_MINUTE", "10"))
MYMEDIC_API_USER_RATE = os.environ.get("MYMEDIC_API_USER_RATE", "1200/min")
MYMEDIC_API_ANON_RATE = os.environ.get("MYMEDIC_API_ANON_RATE", "120/min")
# Sign-in lock-out: this many failures lock one account for a while; an address (a whole
# clinic behind NAT) is throttled only after the larger address limit.
MYMEDIC_LOGIN_FAILURE_LIMIT = int(os.environ.get("MYMEDIC_LOGIN_FAILURE_LIMIT", "5"))
MYMEDIC_LOGIN_ADDRESS_LIMIT = int(os.environ.get("MYMEDIC_LOGIN_ADDRESS_LIMIT", "50"))
MYMEDIC_LOGIN_LOCKOUT_SECONDS = int(os.environ.get("MYMEDIC_LOGIN_LOCKOUT_SECONDS", "900"))

# How many days back the front desk may declare a day-end count (managers: any past day).
MYMEDIC_DECLARATION_WINDOW_DAYS = int(os.environ.get("MYMEDIC_DECLARATION_WINDOW_DAYS", "2"))
# Staff API tokens die after this long unused (sliding; a long weekend away keeps a doctor's
# phone signed in) and this long after sign-in at most.
MYMEDIC_TOKEN_IDLE_HOURS = int(os.environ.get("MYMEDIC_TOKEN_IDLE_HOURS", "72"))
MYMEDIC_TOKEN_MAX_DAYS = int(os.environ.get("MYMEDIC_TOKEN_MAX_DAYS", "30"))

# Patient app sign-in: SMS codes and patient tokens (README, "Patient app").
MYMEDIC_PATIENT_CODE_TTL_SECONDS = int(os.environ.get("MYMEDIC_PATIENT_CODE_TTL_SECONDS", "300"))
MYMEDIC_PATIENT_CODE_MAX_ATTEMPTS = int(os.environ.get("MYMEDIC_PATIENT_CODE_MAX_ATTEMPTS", "5"))
MYMEDIC_PATIENT_CODE_PHONE_RATE = os.environ.get("MYMEDIC_PATIENT_CODE_PHONE_RATE", "5/hour")
MYMEDIC_PATIENT_CODE_IP_RATE = os.environ.get("MYMEDIC_PATIENT_CODE_IP_RATE", "30/hour")
MYMEDIC_PATIENT_SIGNIN_PHONE_RATE = os.environ.get("MYMEDIC_PATIENT_SIGNIN_PHONE_RATE", "10/hour")
MYMEDIC_PATIENT_SIGNIN_IP_RATE = os.environ.get("MYMEDIC_PATIENT_SIGNIN_IP_RATE", "60/hour")
MYMEDIC_PATIENT_TOKEN_DAYS = int(os.environ.get("MYMEDIC_PATIENT_TOKEN_DAYS", "90"))

SPECTACULAR_SETTINGS = {
    "TITLE": "MyMedic API",
    "DESCRIPTION": (
        "The public HTTP contract of MyMedic (v1). Onboarding is served on the base domain; "
        "every other operation on a tenant host `{slug}.{BASE_DOMAIN}` with "
        "`Authorization: Token <key>`. Every POST accepts `Idempotency-Key`."
    ),
    "VERSION": "1.0.0",
    "SERVE_URLCONF": "mymedic.urls_schema",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The API's clients sign in with tokens; the console's session cookie is not for them.
    "AUTHENTICATION_WHITELIST": [
        "apps.clinic.tokens.StaffTokenAuthentication",
        "apps.patientapp.auth.PatientTokenAuthentication",
    ],
    "ENUM_NAME_OVERRIDES": {
        "PaymentKindEnum": "apps.billing.models.Payment.Kind",
        "TenantKindEnum": "apps.tenants.models.Tenant.Kind",
        "AppointmentStatusEnum": "apps.scheduling.models.Appointment.Status",
        "CloseStatusEnum": ["undeclared", "balanced", "variance"],
        "PaymentMethodEnum": "apps.billing.models.Method",
        "DeclaredMethodEnum": ["cash", "card", "upi", "other"],
        "WaitlistStatusEnum": "apps.scheduling.models.WaitlistEntry.Status",
        "DeliveryStatusEnum": "apps.notifications.models.Delivery.Status",
        "NotificationKindEnum": "apps.notifications.models.Kind",
        "NotificationChannelEnum": "apps.notifications.models.CHANNEL_CHOICES",
        "PatientLanguageEnum": "apps.scheduling.models.Patient.LANGUAGES",
        "KindEnum": "apps.billing.models.Refund.Kind",
        "CategoryEnum": "apps.billing.models.DISCOUNT_CATEGORIES",
        "GstDocumentKindEnum": "apps.billing.models.GstDocument.Kind",
        "GstSupplyCategoryEnum": "apps.billing.gst.CATEGORY_CHOICES",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.openapi.document_errors",
        "apps.plans.openapi.document_payment_required",
    ],
}

LANGUAGE_CODE = "en-in"
TIME_ZONE = "UTC"
# The platform's billing clock: usage months and SaaS statements (apps.metering, apps.plans).
MYMEDIC_BILLING_TIMEZONE = os.environ.get("MYMEDIC_BILLING_TIMEZONE", "Asia/Kolkata")
USE_I18N = True
USE_TZ = True
# One date, time and number format per locale (en-in: "2 Dec 2026, 09:00 IST", 12,34,567.00).
FORMAT_MODULE_PATH = ["mymedic.formats"]
# Catalogues of the pages that speak Hindi too (the waiting-room display, the doctor's queue):
# locale/hi/LC_MESSAGES/django.po, its compiled .mo committed beside it (docs/QUEUE.md).
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Locally, static files are served straight from the source folders; production runs
# `collectstatic` into MYMEDIC_STATIC_ROOT and serves that.
STATIC_ROOT = os.environ.get("MYMEDIC_STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = STATIC_ROOT is None

SESSION_COOKIE_HTTPONLY = True
# Confirmations name patients: keep them in the server-side session, never in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Staff web sessions end after 8 idle hours and when the browser closes. A session in use is
# refreshed at most once a minute, not written on every request (apps/core/sessions.py,
# which also keeps each session's copy in Redis so that a page reads it without a query).
SESSION_COOKIE_AGE = int(os.environ.get("MYMEDIC_SESSION_IDLE_HOURS", "8")) * 3600
SESSION_ENGINE = "apps.core.sessions"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = False
CSRF_TRUSTED_ORIGINS = [f"https://{BASE_DOMAIN}", f"https://*.{BASE_DOMAIN}"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    # Behind a TLS-terminating load balancer that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("MYMEDIC_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
