"""`make run`: the whole platform in the foreground until SIGINT or SIGTERM.

RabbitMQ is started if it is installed but down; the embedded database is started when
MONGO_URI is unset; an empty database gets the demo data; the services and the gateway, one
process each as `deploy/Procfile` lists them, run under supervisor (`ops.supervise`), which
restarts whatever dies, the embedded database included.
"""
import os
import signal
import subprocess
import sys
from pathlib import Path

from nszm.config import Settings, ensure_secret
from ops import embedded, rabbit, say
from ops.supervise import DATABASE, DATABASE_STOP_SECONDS, Program, Supervisor, procfile_programs, terminate_with_parent


class StopRequested(Exception):
    """SIGINT or SIGTERM: stop everything and exit 0."""


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stop_requested(*_):
    """The first SIGINT or SIGTERM stops everything; those after it (a second Ctrl-C, or the
    SIGTERM this process gets when `make` exits first) must not cut the stopping short."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, stopping_already)
    raise StopRequested


def stopping_already(*_):
    """Not SIG_IGN: the programs started while stopping would inherit that."""


def stop_on_signals():
    for sig in STOP_SIGNALS:  # also when started with SIGINT ignored (in the background)
        signal.signal(sig, stop_requested)


def database_program(settings: Settings, port: int) -> Program:
    """SecantusDB on a port of its own, kept across its restarts; started first, stopped last."""
    return Program(DATABASE, embedded.command(settings.data_dir, port), priority=1, autostart=True,
                   log=str(settings.data_dir / "mongo.log"), stop_seconds=DATABASE_STOP_SECONDS)


def main() -> int:
    settings = Settings.from_env()
    terminate_with_parent()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    rabbit.ensure_running(settings.amqp_uri)
    stop_on_signals()
    programs = procfile_programs(replicas=settings.service_replicas)
    mongo_uri, port = settings.mongo_uri, None
    if not mongo_uri:
        port = embedded.free_port(avoid=(int(settings.gateway_bind.rpartition(":")[2]),))  # not the gateway's
        mongo_uri = embedded.uri_for(port)
        programs.insert(0, database_program(settings, port))
    env = dict(os.environ)
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
        PYTHONUNBUFFERED="1",
        EVENTLET_NO_GREENDNS="yes",  # eventlet's DNS would load dnspython into every service (8 MiB each)
        DATA_DIR=str(settings.data_dir),
        PUBLIC_URL=settings.public_url,
        MONGO_URI=mongo_uri,
        SECRET_KEY=settings.secret_key or ensure_secret(settings.data_dir),
    )
    supervisor = Supervisor(programs, settings.data_dir, env)
    try:
        supervisor.start()
        if port is not None:
            say(f"embedded database (SecantusDB) at {mongo_uri}, data in {settings.data_dir / 'mongo'}")
        if subprocess.run([sys.executable, "-m", "ops.prepare"], env=env).returncode != 0:
            sys.exit(f"The database at {mongo_uri} does not answer; see {settings.data_dir / 'mongo.log'}.")
        if port is not None:
            embedded.port_file(settings.data_dir).write_text(str(port))
        supervisor.start_all()
        say(f"gateway on {settings.public_url} (Ctrl-C stops everything; a process that dies is restarted)")
        supervisor.wait()
        return 0
    except StopRequested:
        return 0
    finally:
        embedded.port_file(settings.data_dir).unlink(missing_ok=True)
        supervisor.stop()


if __name__ == "__main__":
    status = main()
    say(f"stopped everything; exit status {status}")
    sys.exit(status)
