"""The embedded MongoDB-compatible server (SecantusDB) used when MONGO_URI is unset."""
import socket
import sys
import time
from pathlib import Path


def free_port(avoid: tuple[int, ...] = ()) -> int:
    """A port nothing listens on now, other than `avoid` (ports promised to others, not yet bound)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in avoid:
            return port


def uri_for(port: int) -> str:
    """The embedded server's address. Retryable writes are off for it: it keeps a record of each
    one and scans all its records at every write (half its time under load); the platform does
    not need them (a transaction is retried whole, ids make a repeated insert harmless, and the
    few writes that must outlast a lost connection are retried by `nszm.storage.persistently`)."""
    return f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false"


def command(data_dir: Path, port: int) -> str:
    """The server's command line. Every commit is fsynced before it is acknowledged: without it
    SecantusDB keeps its last commits in a log buffer that a SIGKILL loses, so an answered write
    could vanish (an fsync costs a fraction of a millisecond here). See ops/secantusd.py."""
    storage = data_dir / "mongo"
    storage.mkdir(parents=True, exist_ok=True)
    return (f"{sys.executable} {Path(__file__).with_name('secantusd.py')} --host 127.0.0.1 --port {port}"
            f" --storage-path {storage} --sync-on-commit --log-level WARNING")


def port_file(data_dir: Path) -> Path:
    return data_dir / "mongo.port"


def running_uri(data_dir: Path) -> str | None:
    """The URI of an embedded server that `make run` started and that still answers."""
    path = port_file(data_dir)
    if not path.exists():
        return None
    uri = uri_for(int(path.read_text().strip()))
    return uri if wait_until_up(uri, timeout=1.0) else None


def wait_until_up(uri: str, timeout: float = 60.0) -> bool:
    import pymongo  # here: `make run`'s long-lived parent process never needs it

    from nszm.storage import connect

    deadline = time.monotonic() + timeout
    client = connect(uri)
    try:
        while time.monotonic() < deadline:
            try:
                client.admin.command("ping")
                return True
            except pymongo.errors.PyMongoError:
                time.sleep(0.2)
        return False
    finally:
        client.close()
