"""The platform's processes under supervisor: each restarted when it dies, with a growing pause
when it keeps dying at start-up; stopped in reverse order (the database last).

`deploy/Procfile` lists the services and the gateway; the embedded database, when MONGO_URI is
unset, is one more program, started first. `Supervisor` writes supervisord's configuration,
runs it in the foreground and talks to it over its private socket (XML-RPC), which the fault
tests also use to find and kill processes.
"""
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ops import say

if TYPE_CHECKING:
    from xmlrpc.client import ServerProxy

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "deploy" / "Procfile"
DATABASE = "mongo"
NOT_RUNNING = 7  # supervisorctl's exit status when a program it started died while starting
START_SECONDS = 3  # a process that dies sooner failed to start: it is tried again after a longer pause each time
START_RETRIES = 1000  # tries in a row before supervisor gives up on a process that never starts
# Then supervisor kills a program that has not stopped (nameko can hang on a lost broker). A
# notify process under load finishes its mailout burst (at most 5 s) and the calls it took first:
# up to 6.6 s measured.
STOP_SECONDS = 15
DATABASE_STOP_SECONDS = 30  # the embedded database, last, may need longer to close its files
SUPERVISOR_STOP_SECONDS = 90  # every group in turn, each within its stop time, with room to spare


@dataclass(frozen=True)
class Program:
    name: str
    command: str
    priority: int
    autostart: bool
    log: str | None = None  # a file; default: supervisord's own output
    stop_seconds: int = STOP_SECONDS


def procfile_programs(procfile: Path = PROCFILE, replicas: int = 1) -> list[Program]:
    """The services and then the gateway, in the Procfile's order, started once the database
    answers; `replicas` processes of each service (`events`, `events-2`, …), which RabbitMQ
    shares the work between. The gateway scales by its workers (GATEWAY_WORKERS) instead."""
    programs = []
    for line in procfile.read_text().splitlines():
        name, _, command = line.partition(":")
        name, command = name.strip(), command.strip()
        if not name or name.startswith("#") or not command:
            continue
        if name == "gateway":
            programs.append(Program(name, command, 200, autostart=False))
        else:
            programs += [Program(name if n == 1 else f"{name}-{n}", command, 100, autostart=False)
                         for n in range(1, replicas + 1)]
    return programs


def group_name(priority: int) -> str:
    return f"p{priority}"


def config(programs: list[Program], socket_path: Path, data_dir: Path, bin_dir: Path) -> str:
    lines = [
        "[supervisord]", "nodaemon=true", *(["user=root"] if os.geteuid() == 0 else []), f"logfile={data_dir / 'supervisord.log'}", "logfile_maxbytes=1MB",
        "logfile_backups=1", "loglevel=info", f"pidfile={data_dir / 'supervisord.pid'}", f"directory={ROOT}",
        "", "[unix_http_server]", f"file={socket_path}", "chmod=0700",
        "", "[supervisorctl]", f"serverurl=unix://{socket_path}",
        "", "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
    ]
    # Programs of one priority form a group, which supervisor starts and stops as one (the
    # services stop together, then the database): a group per priority, named after it.
    for priority in sorted({program.priority for program in programs}):
        names = ",".join(program.name for program in programs if program.priority == priority)
        lines += [f"[group:{group_name(priority)}]", f"programs={names}", f"priority={priority}", ""]
    for program in programs:
        command = program.command
        first = command.split()[0]
        if (bin_dir / first).exists():  # the project's own tools, whatever the PATH
            command = f"{bin_dir / first} {command.partition(' ')[2]}"
        log = program.log or "/dev/stdout"
        lines += [
            f"[program:{program.name}]", f"command={command}", f"priority={program.priority}",
            f"autostart={'true' if program.autostart else 'false'}", "autorestart=true",
            f"startsecs={START_SECONDS}", f"startretries={START_RETRIES}", "stopsignal=TERM",
            f"stopwaitsecs={program.stop_seconds}", "stopasgroup=true", "killasgroup=true", "redirect_stderr=true",
            f"stdout_logfile={log}", f"stdout_logfile_maxbytes={'0' if log == '/dev/stdout' else '10MB'}", "",
        ]
    return "\n".join(lines)


class Supervisor:
    """supervisord in the foreground, a child of this process, stopped with it."""

    def __init__(self, programs: list[Program], data_dir: Path, env: dict):
        self.programs = programs
        self.socket_dir = Path(tempfile.mkdtemp(prefix="nszm-"))  # short: socket paths are limited to ~100 bytes
        self.socket_path = self.socket_dir / "supervisor.sock"
        self.config_path = data_dir / "supervisord.conf"
        self.config_path.write_text(config(programs, self.socket_path, data_dir, Path(sys.executable).parent))
        (data_dir / "supervisor.socket").write_text(str(self.socket_path))
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self):
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "supervisord"), "-c", str(self.config_path)],
            env=self.env, cwd=ROOT, preexec_fn=stop_with_parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"supervisord exited with {self.process.returncode}")
            if self.socket_path.exists() and self._ctl("pid").returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("supervisord did not answer on its socket")

    def _ctl(self, *command: str) -> subprocess.CompletedProcess:
        """supervisorctl, rather than XML-RPC from here: this process lives as long as the
        platform, and an XML-RPC client would keep a fifth of its memory for two calls."""
        return subprocess.run([str(Path(sys.executable).parent / "supervisorctl"), "-c", str(self.config_path),
                               *command], capture_output=True, text=True, cwd=ROOT)

    def start_all(self):
        """Start every program; one that dies while it starts is tried again by supervisord itself
        (after a longer pause each time), as any program that dies later is."""
        started = self._ctl("start", "all")
        if started.returncode == NOT_RUNNING:
            say(f"{started.stdout.strip()}; supervisor starts it again")
        elif started.returncode not in (0, 1):  # 1: some program is still starting; it goes on by itself
            raise RuntimeError(f"supervisorctl could not start the programs: {started.stdout}{started.stderr}")

    def wait(self) -> int:
        return self.process.wait()

    def stop(self):
        """Everything stopped in reverse order of priority; returns when supervisord has exited."""
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C or SIGTERM must not cut the stop short
            signal.signal(sig, signal.SIG_IGN)
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=SUPERVISOR_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.socket_dir, ignore_errors=True)


def control(socket_path: Path) -> "ServerProxy":
    """An XML-RPC client of a running supervisord (`getProcessInfo(name)["pid"]`, …)."""
    from xmlrpc.client import ServerProxy

    from supervisor.xmlrpc import SupervisorTransport

    return ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, f"unix://{socket_path}"))


def control_for(data_dir: Path) -> "ServerProxy":
    """The supervisord that `make run` started with this DATA_DIR."""
    return control(Path((data_dir / "supervisor.socket").read_text().strip()))


def terminate_with_parent():
    """This process gets a SIGTERM when its parent dies: nothing outlives a killed `make`."""
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the platform then outlives a killed parent
        pass


def stop_with_parent():
    """In supervisord: its own process group (a Ctrl-C reaches the launcher, which stops it in
    order), and a SIGTERM when the launcher dies."""
    os.setpgrp()
    terminate_with_parent()
