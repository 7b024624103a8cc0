"""`make run`: the whole platform in the foreground until SIGINT or SIGTERM.

RabbitMQ is started if it is installed but down; the embedded database is started when
MONGO_URI is unset; an empty database gets the demo data; the services and the gateway
run under honcho, one process each as `deploy/Procfile` lists them.
"""
import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

from honcho.environ import parse_procfile
from honcho.manager import Manager
from honcho.printer import Printer

from nszm.config import Settings
from ops import embedded, rabbit
from ops.demo import load_demo

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "deploy" / "Procfile"
STOPPED_ON_REQUEST = {130, 143}


def say(message: str):
    print(f"[nszm] {message}", flush=True)


def start_embedded_mongo(settings: Settings) -> tuple[subprocess.Popen, str]:
    """SecantusDB in its own session, so that it outlives the services and stops last."""
    port = embedded.free_port()
    log = open(settings.data_dir / "mongo.log", "ab")
    server = subprocess.Popen(
        embedded.command(settings.data_dir, port).split(), stdout=log, stderr=log, start_new_session=True
    )
    uri = embedded.uri_for(port)
    if not embedded.wait_until_up(uri):
        server.terminate()
        sys.exit(f"The embedded database did not start; see {settings.data_dir / 'mongo.log'}.")
    embedded.port_file(settings.data_dir).write_text(str(port))
    say(f"embedded database (SecantusDB) on 127.0.0.1:{port}, data in {settings.data_dir / 'mongo'}")
    return server, uri


def stop(server: subprocess.Popen | None, data_dir: Path):
    if server is None:
        return
    embedded.port_file(data_dir).unlink(missing_ok=True)
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


def run_processes(env: dict) -> int:
    manager = Manager(Printer(sys.stdout))
    for name, command in parse_procfile(PROCFILE.read_text()).processes.items():
        manager.add_process(name, command, env=env, cwd=str(ROOT))
    manager.loop()
    return 0 if manager.returncode in STOPPED_ON_REQUEST else (manager.returncode or 0)


def stop_with_parent():
    """Stop like on SIGTERM when the parent dies (`make` killed alone leaves no platform behind)."""
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the platform then outlives a killed parent
        pass


def main() -> int:
    settings = Settings.from_env()
    stop_with_parent()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    rabbit.ensure_running(settings.amqp_uri)
    # Until honcho takes over the signals, a SIGTERM must still run the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = None
    try:
        if settings.mongo_uri:
            mongo_uri = settings.mongo_uri
        else:
            server, mongo_uri = start_embedded_mongo(settings)
        if settings.demo_data:
            loaded = load_demo(mongo_uri, settings.mongo_db)
            say(f"demo data: {loaded} records loaded" if loaded else "demo data: the database has data already")
        env = dict(os.environ)
        env.update(
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
            DATA_DIR=str(settings.data_dir),
            PUBLIC_URL=settings.public_url,
            MONGO_URI=mongo_uri,
        )
        say(f"gateway on {settings.public_url} (Ctrl-C stops everything)")
        return run_processes(env)
    except KeyboardInterrupt:
        return 0
    finally:
        stop(server, settings.data_dir)


if __name__ == "__main__":
    status = main()
    say(f"stopped everything; exit status {status}")
    sys.exit(status)
