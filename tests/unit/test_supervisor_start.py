"""`make run`'s start of every program (ops/supervise.py `Supervisor.start_all`): a program that died
while supervisorctl waited for it to start does not stop the platform (supervisord starts it
again, as any program that dies later); supervisorctl failing otherwise does."""
import subprocess

import pytest

from ops.supervise import NOT_RUNNING, Program, Supervisor


@pytest.fixture
def supervisor(tmp_path, monkeypatch):
    supervisor = Supervisor([Program("events", "true", priority=20, autostart=False)], tmp_path, {})
    answers = {}
    monkeypatch.setattr(supervisor, "_ctl", lambda *command: answers[command])
    supervisor.answers = answers
    return supervisor


def test_a_program_that_died_while_starting_does_not_stop_the_start(supervisor, capsys):
    supervisor.answers[("start", "all")] = subprocess.CompletedProcess(
        [], NOT_RUNNING, "p20:events: ERROR (abnormal termination)", "")
    supervisor.start_all()
    assert "p20:events: ERROR (abnormal termination); supervisor starts it again" in capsys.readouterr().out


def test_supervisorctl_failing_otherwise_stops_the_start(supervisor):
    supervisor.answers[("start", "all")] = subprocess.CompletedProcess([], 2, "", "error: no such option")
    with pytest.raises(RuntimeError, match="could not start the programs"):
        supervisor.start_all()
