"""The platform's configuration: the contract's environment variables and their defaults, here only.

Services read the same variables through their nameko config (`deploy/nameko.yaml` passes the
environment on, unset ones empty), so `Settings.from_env(container.config)` gives them these defaults.
"""
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import unquote, urlparse

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_BUS_RETRY_DELAYS = (1.0, 10.0, 60.0)  # seconds before a failed event's 2nd, 3rd, 4th try
DEFAULT_MONGO_DB = "nszm"
DEFAULT_GATEWAY_BIND = "127.0.0.1:8000"
DEFAULT_MAIL_FROM = "Národní síť Zdravých měst ČR <info@zdravamesta.cz>"
DEFAULT_DATA_DIR = "./var"
DEFAULT_MAILOUT_RATE = 10.0
DEFAULT_SERVICE_CALL_TIMEOUT = 5.0  # seconds; well inside the gateway's own 15 s
DEFAULT_READ_CACHE_MIB = 32  # per gateway worker
DEFAULT_SERVICE_REPLICAS = 1  # processes of each service that `make run` starts
# Gateway worker processes: one per two cores, since the services and the database share them
# on one machine; a replica on Kubernetes gets its own core (deploy/CAPACITY.md).
DEFAULT_GATEWAY_WORKERS = max(1, (os.cpu_count() or 1) // 2)
SECRET_FILE = "secret.key"  # under DATA_DIR: the generated SECRET_KEY of `make run`
LOCAL_MONGO_URI = "mongodb://127.0.0.1:27017/?directConnection=true"  # a service with no MONGO_URI set


@dataclass(frozen=True)
class Retention:
    """How long each kind of personal record is kept; each period a setting (README, PRIVACY.md)."""

    mail_bodies: timedelta = timedelta(days=30)  # after sending: the text, its links and attachments
    webhook_deliveries: timedelta = timedelta(days=30)
    dead_letters: timedelta = timedelta(days=30)
    registrations: timedelta = timedelta(days=365)  # after the event: personal fields and answers
    rejected_applications: timedelta = timedelta(days=182)
    mailout_recipients: timedelta = timedelta(days=30)  # after the mailout ends
    unconfirmed_subscriptions: timedelta = timedelta(days=30)
    published_events: timedelta = timedelta(days=1)  # an outbox row after publishing
    bounces: timedelta = timedelta(days=365)  # a bounce or complaint (the suppression it caused stays)

    SETTINGS = {  # environment variable -> (field, unit)
        "RETAIN_MAIL_BODIES_DAYS": ("mail_bodies", "days"),
        "RETAIN_WEBHOOK_DELIVERIES_DAYS": ("webhook_deliveries", "days"),
        "RETAIN_DEAD_LETTERS_DAYS": ("dead_letters", "days"),
        "RETAIN_REGISTRATIONS_MONTHS": ("registrations", "months"),
        "RETAIN_REJECTED_APPLICATIONS_MONTHS": ("rejected_applications", "months"),
        "RETAIN_MAILOUT_RECIPIENTS_DAYS": ("mailout_recipients", "days"),
        "RETAIN_UNCONFIRMED_SUBSCRIPTIONS_DAYS": ("unconfirmed_subscriptions", "days"),
        "RETAIN_BOUNCES_DAYS": ("bounces", "days"),
    }

    @classmethod
    def from_env(cls, env=None) -> "Retention":
        env = os.environ if env is None else env
        periods = {}
        for variable, (field, unit) in cls.SETTINGS.items():
            raw = env.get(variable)
            if raw is None or str(raw).strip() == "":
                continue
            amount = float(raw)
            if amount < 0:
                raise ValueError(f"{variable} must not be negative")
            periods[field] = timedelta(days=amount * (365 / 12 if unit == "months" else 1))
        return cls(**periods)

    def cutoff(self, kind: str, now: datetime) -> datetime:
        """Records of `kind` whose clock started before this moment are due."""
        return now - getattr(self, kind)


@dataclass(frozen=True)
class Settings:
    amqp_uri: str
    mongo_uri: str | None
    mongo_db: str
    data_dir: Path
    smtp_url: str | None
    mail_from: str
    bounce_address: str
    bounce_mailbox: str | None
    gateway_bind: str
    public_url: str
    bootstrap_staff_token: str | None
    demo_data: bool
    mailout_rate: float
    bus_retry_delays: tuple[float, ...]
    webhooks_allow_private: bool
    # RPC queues as quorum queues, which outlive a RabbitMQ node but cost a round trip about 1 ms
    # more (they write every request to disk): on by default when AMQP_URI names several nodes.
    rpc_queues_replicated: bool
    trusted_proxies: int
    service_call_timeout: float
    service_replicas: int
    gateway_workers: int
    read_cache_bytes: int
    secret_key: str | None
    process_slot: str | None
    retention: Retention

    @property
    def database_uri(self) -> str:
        """Where a service or the gateway connects: MONGO_URI, else a database on this machine."""
        return self.mongo_uri or LOCAL_MONGO_URI

    @classmethod
    def from_env(cls, environ=None) -> "Settings":
        env = os.environ if environ is None else environ
        bind = env.get("GATEWAY_BIND") or DEFAULT_GATEWAY_BIND
        data_dir = Path(env.get("DATA_DIR") or DEFAULT_DATA_DIR).resolve()
        return cls(
            amqp_uri=env.get("AMQP_URI") or DEFAULT_AMQP_URI,
            mongo_uri=env.get("MONGO_URI") or None,
            mongo_db=env.get("MONGO_DB") or DEFAULT_MONGO_DB,
            data_dir=data_dir,
            smtp_url=env.get("SMTP_URL") or None,
            mail_from=env.get("MAIL_FROM") or DEFAULT_MAIL_FROM,
            bounce_address=env.get("BOUNCE_ADDRESS") or bounce_address_for(env.get("MAIL_FROM") or DEFAULT_MAIL_FROM),
            bounce_mailbox=env.get("BOUNCE_MAILBOX") or None,
            gateway_bind=bind,
            public_url=(env.get("PUBLIC_URL") or f"http://{bind}").rstrip("/"),
            bootstrap_staff_token=env.get("BOOTSTRAP_STAFF_TOKEN") or None,
            demo_data=_flag(env.get("DEMO_DATA"), True),
            mailout_rate=_number(env.get("MAILOUT_RATE"), DEFAULT_MAILOUT_RATE),
            bus_retry_delays=tuple(float(d) for d in str(env.get("BUS_RETRY_DELAYS") or "").split(",") if d.strip())
            or DEFAULT_BUS_RETRY_DELAYS,
            webhooks_allow_private=_flag(env.get("WEBHOOKS_ALLOW_PRIVATE"), False),
            rpc_queues_replicated=_flag(env.get("RPC_QUEUES_REPLICATED"),
                                        ";" in (env.get("AMQP_URI") or DEFAULT_AMQP_URI)),
            trusted_proxies=int(_number(env.get("TRUSTED_PROXIES"), 0)),
            service_call_timeout=_number(env.get("SERVICE_CALL_TIMEOUT"), DEFAULT_SERVICE_CALL_TIMEOUT),
            service_replicas=max(1, int(_number(env.get("SERVICE_REPLICAS"), DEFAULT_SERVICE_REPLICAS))),
            gateway_workers=max(1, int(_number(env.get("GATEWAY_WORKERS"), DEFAULT_GATEWAY_WORKERS))),
            read_cache_bytes=int(_number(env.get("READ_CACHE_MIB"), DEFAULT_READ_CACHE_MIB) * 1024 * 1024),
            secret_key=env.get("SECRET_KEY") or _secret_in(data_dir),
            process_slot=_supervised_slot(env),
            retention=Retention.from_env(env),
        )


@dataclass(frozen=True)
class MailServer:
    """A mail server as its URL in the configuration names it (smtp[s]://, imap[s]://)."""
    secure: bool
    host: str
    port: int
    user: str | None
    password: str | None
    path: str

    @classmethod
    def from_url(cls, url: str, setting: str, scheme: str, ports: tuple[int, int], plain_form: str = "") -> "MailServer":
        """`scheme` with STARTTLS on `ports[0]`, or `scheme`s over TLS on `ports[1]`."""
        parts = urlparse(url)
        if parts.scheme not in (scheme, scheme + "s"):
            raise ValueError(f"{setting} must be {plain_form}{scheme}:// or {scheme}s://, not {parts.scheme}://")
        secure = parts.scheme == scheme + "s"
        return cls(secure=secure, host=parts.hostname or "localhost", port=parts.port or ports[secure],
                   user=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None, path=unquote(parts.path.lstrip("/")))


def bounce_address_for(mail_from: str) -> str:
    """`bounces@` the sender's domain: where bounces come back (each message's own `bounces+…@`)."""
    return f"bounces@{parseaddr(mail_from)[1].rpartition('@')[2] or 'localhost'}"


def _secret_in(data_dir: Path) -> str | None:
    try:
        return (data_dir / SECRET_FILE).read_text().strip() or None
    except OSError:
        return None


def ensure_secret(data_dir: Path) -> str:
    """The SECRET_KEY kept under DATA_DIR, made (readable by its owner only) if there is none yet."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _supervised_slot(env) -> str | None:
    """The place of this process in its supervisor (host, supervisor, program: `notify-2`), which
    one live process holds at a time: supervisor starts the next only once the last has died. Set
    by supervisor itself, so not a setting of the contract; None for a process it did not start."""
    server, program = env.get("SUPERVISOR_SERVER_URL"), env.get("SUPERVISOR_PROCESS_NAME")
    return f"{socket.gethostname()} {server} {program}" if server and program else None


def _flag(value, default: bool) -> bool:
    if value is None or str(value).strip() == "":
        return default
    return str(value).strip().lower() not in {"0", "false", "no", "off"}


def _number(value, default: float) -> float:
    """A number from the environment (or nameko's YAML, which may have parsed it already); unset: the default."""
    return default if value is None or str(value).strip() == "" else float(value)
