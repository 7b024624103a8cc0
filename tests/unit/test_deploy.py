"""What `deploy/` holds for running beyond one machine: Kubernetes manifests valid against the
Kubernetes API schemas (strictly: no unknown field), and a compose file, both running exactly
the Procfile's processes, several replicas each."""
import copy
import shlex
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from nszm.config import Settings
from ops.secantusd import TRANSACTION_IDLE_SECONDS
from ops.supervise import START_SECONDS, STOP_SECONDS, procfile_programs

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBERNETES_VERSION = "1.35.0"
# mongod rolls back a transaction left open (a service killed inside it) as soon as the embedded server
TRANSACTION_LIFETIME = f"transactionLifetimeLimitSeconds={TRANSACTION_IDLE_SECONDS:.0f}"


def manifests() -> list[dict]:
    return [document for path in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
            for document in yaml.safe_load_all(path.read_text()) if document]


def of_kind(kind: str) -> dict[str, dict]:
    return {document["metadata"]["name"]: document for document in manifests() if document["kind"] == kind}


def container(deployment: dict) -> dict:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def command(program) -> list[str]:
    return shlex.split(program.command)


@pytest.mark.parametrize("document", manifests(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_manifest_is_valid_for_kubernetes_strictly(document):
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("break_it", [
    lambda d: d["spec"].__setitem__("replicas", "two"),
    lambda d: d["spec"]["template"]["spec"].__setitem__("containerz", []),
    lambda d: d["spec"].pop("selector"),
])
def test_the_validation_rejects_a_broken_deployment(break_it):
    broken = copy.deepcopy(of_kind("Deployment")["nszm-gateway"])
    break_it(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_each_procfile_process_is_a_deployment_of_several_replicas_with_requests_and_a_budget():
    deployments, budgets = of_kind("Deployment"), of_kind("PodDisruptionBudget")
    for program in procfile_programs():
        deployment = deployments[f"nszm-{program.name}"]
        assert deployment["spec"]["replicas"] >= 2
        run = container(deployment)
        assert run["command"] == command(program)
        assert {"cpu", "memory"} <= run["resources"]["requests"].keys() and run["resources"]["limits"]["memory"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(budget["spec"]["selector"]["matchLabels"].items() <= labels.items() for budget in budgets.values())


def test_a_rollout_starts_a_new_replica_before_an_old_one_stops_and_leaves_time_to_stop():
    """As the rolling-restart test does it: never fewer replicas than asked for; a service's new
    replica counts only once it has had time to take calls; the gateway's pause before SIGTERM
    and gunicorn's graceful stop fit within the pod's grace period."""
    gunicorn = {}
    exec((DEPLOY / "gunicorn.conf.py").read_text(), gunicorn)
    for program in procfile_programs():
        deployment = of_kind("Deployment")[f"nszm-{program.name}"]
        assert deployment["spec"]["strategy"] == {"type": "RollingUpdate",
                                                  "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
        pod = deployment["spec"]["template"]["spec"]
        if program.name == "gateway":
            pause = container(deployment)["lifecycle"]["preStop"]["sleep"]["seconds"]
            assert pause + gunicorn["graceful_timeout"] < pod["terminationGracePeriodSeconds"]
        else:
            assert deployment["spec"]["minReadySeconds"] >= 2 * START_SECONDS
            assert pod["terminationGracePeriodSeconds"] > STOP_SECONDS


def test_the_gateway_scales_on_cpu_and_is_ready_on_its_own_connections_only():
    gateway = of_kind("Deployment")["nszm-gateway"]
    assert container(gateway)["readinessProbe"]["httpGet"]["path"] == "/readyz/gateway"
    autoscaler = of_kind("HorizontalPodAutoscaler")["nszm-gateway"]
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == "nszm-gateway"
    assert autoscaler["spec"]["minReplicas"] >= 2


def test_rabbitmq_and_mongodb_run_as_three_member_clusters_with_budgets():
    sets, budgets = of_kind("StatefulSet"), of_kind("PodDisruptionBudget")
    assert sets["rabbitmq"]["spec"]["replicas"] == sets["mongodb"]["spec"]["replicas"] == 3
    assert budgets["rabbitmq"]["spec"]["maxUnavailable"] == budgets["mongodb"]["spec"]["maxUnavailable"] == 1
    assert "--replSet" in container(sets["mongodb"])["args"]
    assert TRANSACTION_LIFETIME in container(sets["mongodb"])["args"]
    uri = of_kind("Secret")["nszm-config"]["stringData"]["MONGO_URI"]
    assert "replicaSet=rs0" in uri and "w=majority" in uri


def test_the_database_and_the_broker_need_credentials_and_the_platform_its_key():
    mongod = container(of_kind("StatefulSet")["mongodb"])
    assert "--auth" in mongod["args"] and "--keyFile" in mongod["args"]
    config = of_kind("Secret")["nszm-config"]["stringData"]
    assert config["MONGO_URI"].startswith("mongodb://nszm:") and "guest" not in config["AMQP_URI"]
    assert len(config["SECRET_KEY"]) >= 32
    rabbit = yaml.safe_load_all((DEPLOY / "kubernetes" / "rabbitmq.yaml").read_text())
    assert "loopback_users.guest = true" in str(list(rabbit))
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for n in (1, 2, 3):
        assert {"--auth", "--keyFile"} <= set(compose["services"][f"mongodb-{n}"]["command"])
    assert "SECRET_KEY" in compose["services"]["gateway"]["environment"]
    assert "@mongodb-1" in compose["services"]["members"]["environment"]["MONGO_URI"]


def test_compose_runs_each_procfile_process_twice_against_clusters():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert all(TRANSACTION_LIFETIME in services[f"mongodb-{n}"]["command"] for n in (1, 2, 3))
    for program in procfile_programs():
        service = services[program.name]
        assert service["command"] == command(program)
        assert service["deploy"]["replicas"] >= 2
        assert "replicaSet=rs0" in service["environment"]["MONGO_URI"]
    assert {"rabbitmq-1", "rabbitmq-2", "rabbitmq-3", "mongodb-1", "mongodb-2", "mongodb-3"} <= services.keys()
    assert "/readyz/gateway" in " ".join(services["gateway"]["healthcheck"]["test"])


def test_make_run_starts_as_many_processes_of_each_service_as_asked_and_one_gateway():
    names = [program.name for program in procfile_programs(replicas=2)]
    assert names == ["members", "members-2", "events", "events-2", "practice", "practice-2", "notify", "notify-2",
                     "gateway"]
    assert [program.name for program in procfile_programs()] == ["members", "events", "practice", "notify", "gateway"]


def test_a_process_that_supervisor_starts_knows_its_place_there_and_passes_it_to_nameko():
    place = {"SUPERVISOR_SERVER_URL": "unix:///srv/nszm/var/supervisor.sock", "SUPERVISOR_PROCESS_NAME": "notify-2"}
    slot = Settings.from_env(place).process_slot
    assert slot.endswith(" unix:///srv/nszm/var/supervisor.sock notify-2")
    assert slot != Settings.from_env({**place, "SUPERVISOR_PROCESS_NAME": "notify"}).process_slot
    assert Settings.from_env({}).process_slot is None  # started otherwise: leases simply run out
    nameko_config = yaml.safe_load((DEPLOY / "nameko.yaml").read_text())
    assert {"SUPERVISOR_SERVER_URL", "SUPERVISOR_PROCESS_NAME"} <= nameko_config.keys()


def test_every_retention_period_reaches_the_services_through_their_nameko_config():
    from nszm.config import Retention

    nameko_config = yaml.safe_load((DEPLOY / "nameko.yaml").read_text())
    assert set(Retention.SETTINGS) <= nameko_config.keys()
    passed = {name: "7" for name in Retention.SETTINGS}
    assert Settings.from_env(passed).retention.mail_bodies.days == 7


def test_every_rabbitmq_node_runs_with_the_clusters_settings_the_cluster_test_uses():
    settings = {line.strip() for line in (DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    assert "cluster_partition_handling = pause_minority" in settings
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert settings <= set(compose["configs"]["rabbitmq-conf"]["content"].splitlines())
    config_map = next(d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / "rabbitmq.yaml").read_text())
                      if d and d["kind"] == "ConfigMap")
    assert settings <= {line.strip() for line in config_map["data"]["rabbitmq.conf"].splitlines()}
    nodes = compose["services"]["members"]["environment"]["AMQP_URI"].split(";")
    assert [uri.split("@")[1].split(":")[0] for uri in nodes] == ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"]
