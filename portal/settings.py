"""Switchboard settings: one module, every value from the environment.

`make run` and `make test` export development defaults (DEBUG, SECRET_KEY), so
a first run needs no configuration. `.env.example` lists every variable.
"""

import datetime as dt
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set SECRET_KEY in the environment; it is required when DEBUG is off."
        )
    SECRET_KEY = "development-only-key-never-used-with-debug-off"
# Old keys, still accepted for signatures while sessions move to a new key.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "portal.apps.StaffAdminConfig",
    "django.contrib.auth",
    # Single sign-on (portal/sso.py); its docs ask for it after auth.
    "mozilla_django_oidc",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_q",
    "axes",
    "csp",
    "import_export",
    "portal",
    "incidents",
    "comms",
    "escalations",
    "statuspage",
    "integrations",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A status page's own host name answers with that page alone.
    "statuspage.middleware.StatusPageHostMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "portal.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.context_processors.support_team",
                "comms.context_processors.approvals",
                # Credits and refunds: the decision queue's count.
                "escalations.context_processors.credit_decisions",
                "escalations.context_processors.escalation_approvals",
            ],
        },
    },
    {
        # Bodies of hot pages only (templates/**/*.jinja); see portal/jinja2.py.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "portal.jinja2.environment"},
    },
]

# SQLite is the embedded default. WAL lets the q2 cluster's ORM broker and the
# pages read and write side by side; IMMEDIATE takes the write lock at BEGIN,
# so select_for_update-style sections do not deadlock on lock upgrades.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Select boxes iterate their querysets with .iterator(), which on
    # PostgreSQL means a server-side cursor: three round trips for a few rows.
    # Nothing here streams large results, and this also suits PgBouncer.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    # DB_PREPARED_STATEMENTS=true: server-side binding, and psycopg prepares
    # a statement a connection has run twice, so PostgreSQL stops planning
    # the pages' wide joins anew on each request (the incident row: 3.0 ms to
    # 0.6 ms; the incident page about 10% faster). Off by default: on the
    # bench's 100,000 incidents the metrics dashboard's year was about 12%
    # slower with it (not traced further: generic plans are a suspect). With
    # PgBouncer in transaction mode it needs 1.21 or later.
    if env.bool("DB_PREPARED_STATEMENTS", default=False):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=2
        )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out sign-in is refused before any password check. It
    # has no get_user(), so sessions and force_login() use the next backend.
    "axes.backends.AxesStandaloneBackend",
    # Refuses a password unless password sign-in is on or the account is a
    # break-glass one (portal/sso.py); it signs nobody in itself.
    "portal.sso.PasswordSignInGate",
    # ModelBackend with a user's permissions in one query (portal/auth.py).
    "portal.auth.PermissionBackend",
    # Still listed so sessions signed in before PermissionBackend keep working;
    # it reads the permissions PermissionBackend cached, so adds no queries.
    "django.contrib.auth.backends.ModelBackend",
    # Single sign-on (OpenID Connect): inert while OIDC_RP_CLIENT_ID is unset.
    # Last, and without permissions of its own: force_login() and the
    # permission checks keep using the backends above.
    "portal.sso.SingleSignOnBackend",
]
# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed sign-ins the
# lockout parameters (by default one account from one address: staff behind
# one NAT or proxy address do not lock each other out) are refused for the
# cool-off. A success clears the count; an admin can clear it in the admin.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [
    item.split("+") if "+" in item else item
    for item in env.list("AXES_LOCKOUT_PARAMETERS", default=["username+ip_address"])
]
AXES_RESET_ON_SUCCESS = True
# Behind a TLS proxy every sign-in arrives from the proxy's address: name
# how many proxies add X-Forwarded-For, so the lockout is per account and
# the real client's address again (0: trust no header).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "portal.throttling.client_ip"
AXES_LOCKOUT_CALLABLE = "portal.throttling.locked_out"
AXES_USERNAME_CALLABLE = "portal.throttling.username_for_throttling"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
# Stored in UTC; TIME_ZONE is only the default display zone for a user who has
# not picked one on their profile page.
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Every setting `check --deploy` names can come from the environment. The
# defaults are the safe values, except the HTTPS ones that would break a
# plain-HTTP development server: the cookie flags follow DEBUG, and the
# redirect and HSTS settings are off until production turns them on (see the
# README and .env.example, which pass `check --deploy`).
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = env.bool("SESSION_COOKIE_HTTPONLY", default=True)
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 60 * 60)
SECURE_CONTENT_TYPE_NOSNIFF = env.bool("SECURE_CONTENT_TYPE_NOSNIFF", default=True)
SECURE_REFERRER_POLICY = env("SECURE_REFERRER_POLICY", default="same-origin")
SECURE_CROSS_ORIGIN_OPENER_POLICY = env(
    "SECURE_CROSS_ORIGIN_OPENER_POLICY", default="same-origin"
)
X_FRAME_OPTIONS = env("X_FRAME_OPTIONS", default="DENY")
# Content-Security-Policy (django-csp): scripts, styles and everything else
# from this site only, never inline, so injected markup cannot run. Templates
# carry no inline <script>, on*= handler or style= (a test checks), and
# Bootstrap is served from static/. Its CSS draws icons as data: SVGs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
# Both only matter with HSTS on. includeSubDomains binds every sub-domain of
# the portal's host name; preload binds nothing until someone submits the
# registrable domain to the browsers' list, which needs it on that domain.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False
)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="switchboard@localhost")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
EMAIL_MESSAGE_ID_DOMAIN = env("EMAIL_MESSAGE_ID_DOMAIN", default="switchboard.local")

# Message delivery: one backend per channel (see comms/channels.py).
CHAT_BACKEND = env(
    "CHAT_BACKEND",
    default="comms.channels.LogChatChannel"
    if DEBUG
    else "comms.channels.WebhookChatChannel",
)
CHAT_WEBHOOK_URL = env("CHAT_WEBHOOK_URL", default="")
CHAT_WEBHOOK_TIMEOUT = env.int("CHAT_WEBHOOK_TIMEOUT", default=10)
COMMS_CHANNEL_BACKENDS = {
    "email": "comms.channels.EmailChannel",
    "chat": CHAT_BACKEND,
    "note": "comms.channels.NoteChannel",
    "status_page": "statuspage.channel.StatusPageChannel",
}
# Attempts before a message is marked failed, and the first retry delay
# (doubled each time).
COMMS_MAX_ATTEMPTS = env.int("COMMS_MAX_ATTEMPTS", default=5)
COMMS_RETRY_BASE_SECONDS = env.int("COMMS_RETRY_BASE_SECONDS", default=60)
# A customer message to many (a systemic notice) goes in chunks of this many
# e-mails over one connection; a killed worker leaves at most one in doubt.
COMMS_DELIVERY_CHUNK = env.int("COMMS_DELIVERY_CHUNK", default=100)
# Chunks one task sends before handing the rest to the next task, well
# inside the cluster's 60 s task timeout.
COMMS_DELIVERY_CHUNKS_PER_TASK = env.int("COMMS_DELIVERY_CHUNKS_PER_TASK", default=20)
# ... and at most this long, whatever the mail server's pace.
COMMS_DELIVERY_SLICE_SECONDS = env.int("COMMS_DELIVERY_SLICE_SECONDS", default=25)
# A delivery claimed longer ago than this was cut off (worker died).
COMMS_STALE_CLAIM_SECONDS = env.int("COMMS_STALE_CLAIM_SECONDS", default=300)
# A message queued longer ago than this and not yet claimed lost its task
# (the queue was down); the sweep enqueues it again.
COMMS_LOST_TASK_SECONDS = env.int("COMMS_LOST_TASK_SECONDS", default=120)
SUPPORT_TEAM_NAME = env("SUPPORT_TEAM_NAME", default="Customer Support")
# A satisfaction survey link in a resolution e-mail stays valid this long.
SURVEY_LINK_MAX_AGE_DAYS = env.int("SURVEY_LINK_MAX_AGE_DAYS", default=30)
# The portal's address as staff reach it, for the links in messages the
# sweep sends (chat alerts, rule escalations); empty leaves them relative.
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="")
# Where customers reach the survey page (a proxy that exposes only
# /survey/); empty means the portal's own address as the sender saw it.
SURVEY_BASE_URL = env("SURVEY_BASE_URL", default="")
# The metrics dashboard refuses ranges longer than this (days).
METRICS_MAX_RANGE_DAYS = env.int("METRICS_MAX_RANGE_DAYS", default=400)

# Automation: replies by e-mail and monitoring signals.
# Shared secret the inbound-mail webhook must present (empty: webhook off).
INBOUND_MAIL_SECRET = env("INBOUND_MAIL_SECRET", default="")
# replies@example.com: e-mails ask for replies at replies+<signed id>@…
# so replies thread even when a mail client drops In-Reply-To.
INBOUND_REPLY_ADDRESS = env("INBOUND_REPLY_ADDRESS", default="")
RECEIVE_MAIL_HOST = env("RECEIVE_MAIL_HOST", default="127.0.0.1")
RECEIVE_MAIL_PORT = env.int("RECEIVE_MAIL_PORT", default=8025)
# The operations page warns when the sweep has not run for this long.
SWEEP_STALE_SECONDS = env.int("SWEEP_STALE_SECONDS", default=300)

# Escalations: who is paged for urgent escalations out of hours
# (a dotted path to a backend, see escalations/paging.py) and where the
# carrier escalation guide's urgent alert is posted.
ESCALATION_PAGER_BACKEND = env(
    "ESCALATION_PAGER_BACKEND", default="escalations.paging.LogPager"
)
# A tier with a pager of its own (PagerDuty, HTTP): tries per call before
# giving up, and the first retry delay (doubled each time).
ESCALATION_PAGER_MAX_ATTEMPTS = env.int("ESCALATION_PAGER_MAX_ATTEMPTS", default=6)
ESCALATION_PAGER_RETRY_SECONDS = env.int("ESCALATION_PAGER_RETRY_SECONDS", default=30)
PAGERDUTY_EVENTS_URL = env(
    "PAGERDUTY_EVENTS_URL", default="https://events.pagerduty.com/v2/enqueue"
)
ESCALATION_URGENT_CHANNEL = env("ESCALATION_URGENT_CHANNEL", default="#cs-urgent")

# django-q2: the ORM broker needs no extra server; REDIS_URL switches to Redis
# when one cluster machine is not enough.
Q_CLUSTER = {
    "name": "switchboard",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 60,
    "retry": 120,
    "max_attempts": 5,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Task queue",
}
if env("REDIS_URL", default=""):
    Q_CLUSTER["redis"] = env("REDIS_URL")
else:
    Q_CLUSTER["orm"] = "default"

# The navigation's counts (portal.nav_counts): shared by every web process
# through Redis when there is one, else kept per process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("REDIS_URL"),
    }
    if env("REDIS_URL", default="")
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"one_line_forbidden": {"()": "portal.log_filters.OneLineForbidden"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"filters": ["one_line_forbidden"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# Public status pages (statuspage app): where the public reaches them (links
# in e-mails; a page with a host of its own uses that), the subscribe form's
# limits, and the pace of update e-mails (0: as fast as the server takes).
STATUSPAGE_BASE_URL = env("STATUSPAGE_BASE_URL", default="")
STATUSPAGE_SUBSCRIBES_PER_IP_PER_HOUR = env.int(
    "STATUSPAGE_SUBSCRIBES_PER_IP_PER_HOUR", default=5
)
STATUSPAGE_SUBSCRIBES_PER_ADDRESS_PER_HOUR = env.int(
    "STATUSPAGE_SUBSCRIBES_PER_ADDRESS_PER_HOUR", default=3
)
STATUSPAGE_MAILS_PER_TASK = env.int("STATUSPAGE_MAILS_PER_TASK", default=500)
STATUSPAGE_MAILS_PER_SECOND = env.int("STATUSPAGE_MAILS_PER_SECOND", default=0)

# Outbound webhooks (integrations app, docs/webhooks.md): the first retry
# delay (doubled each time), tries before a delivery is given up, failures
# in a row that pause an endpoint, the seconds a receiver has to answer, and
# who besides ADMINS is mailed when an endpoint is paused.
INTEGRATIONS_WEBHOOK_RETRY_SECONDS = env.int(
    "INTEGRATIONS_WEBHOOK_RETRY_SECONDS", default=30
)
INTEGRATIONS_WEBHOOK_MAX_ATTEMPTS = env.int(
    "INTEGRATIONS_WEBHOOK_MAX_ATTEMPTS", default=8
)
INTEGRATIONS_WEBHOOK_PAUSE_AFTER = env.int(
    "INTEGRATIONS_WEBHOOK_PAUSE_AFTER", default=20
)
INTEGRATIONS_WEBHOOK_TIMEOUT = env.int("INTEGRATIONS_WEBHOOK_TIMEOUT", default=10)
INTEGRATIONS_WEBHOOK_NOTICE_EMAILS = env.list(
    "INTEGRATIONS_WEBHOOK_NOTICE_EMAILS", default=[]
)

# The REST API at /api/v1/ (api app): requests per token per minute, counted
# in the cache above (shared across web processes only with Redis); 0 means
# no limit.
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=600)

# Single sign-on with OpenID Connect (mozilla-django-oidc; portal/sso.py and
# the README's "Single sign-on"). Off until OIDC_RP_CLIENT_ID is set. The
# provider's groups (SSO_GROUPS_CLAIM) set the portal roles named in
# SSO_ROLE_MAP ("idp-group=Portal group,...") at every sign-in; other groups
# are left alone. The OIDC_* names are the library's own settings.
OIDC_RP_CLIENT_ID = env("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env("OIDC_RP_CLIENT_SECRET", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_RP_SIGN_ALGO = env("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env("OIDC_RP_SCOPES", default="openid email profile")
# PKCE on top of the client secret; every current provider supports it.
OIDC_USE_PKCE = env.bool("OIDC_USE_PKCE", default=True)
# Seconds the provider has to answer the back-channel calls (the library
# waits forever by default).
OIDC_TIMEOUT = env.int("OIDC_TIMEOUT", default=10)
SSO_PROVIDER_NAME = env("SSO_PROVIDER_NAME", default="single sign-on")
SSO_GROUPS_CLAIM = env("SSO_GROUPS_CLAIM", default="groups")
# A space in a portal group's name may be written "_" (Senior_agent), as
# .env files take no spaces (see .env.example).
SSO_ROLE_MAP = {
    idp_group.strip(): portal_group.strip().replace("_", " ")
    for idp_group, portal_group in env.dict("SSO_ROLE_MAP", default={}).items()
}
SSO_CREATE_USERS = env.bool("SSO_CREATE_USERS", default=True)
# Off: only single sign-on, except for the break-glass accounts named here,
# which sign in with a password always (and never through the provider).
PASSWORD_SIGN_IN = env.bool("PASSWORD_SIGN_IN", default=True)
BREAK_GLASS_USERS = env.list("BREAK_GLASS_USERS", default=[])
# A single sign-on callback is not a password guess: django-axes leaves it
# uncounted, so people refused for want of a role lock nobody out.
AXES_WHITELIST_CALLABLE = "portal.sso.is_single_sign_on_attempt"
if OIDC_RP_CLIENT_ID:
    _needed = [
        "OIDC_RP_CLIENT_SECRET",
        "OIDC_OP_AUTHORIZATION_ENDPOINT",
        "OIDC_OP_TOKEN_ENDPOINT",
        "OIDC_OP_USER_ENDPOINT",
        "SSO_ROLE_MAP",
    ]
    if OIDC_RP_SIGN_ALGO.startswith(("RS", "ES")):
        _needed.append("OIDC_OP_JWKS_ENDPOINT")
    _missing = [name for name in _needed if not globals()[name]]
    if _missing:
        raise ImproperlyConfigured(
            f"Single sign-on (OIDC_RP_CLIENT_ID) also needs {', '.join(_missing)}."
        )
elif not PASSWORD_SIGN_IN:
    raise ImproperlyConfigured(
        "PASSWORD_SIGN_IN=false needs single sign-on: set OIDC_RP_CLIENT_ID."
    )
