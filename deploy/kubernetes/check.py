"""Checks rendered manifests against the rules the service relies on.

kubernetes-validate proves the manifests are well-formed; this proves they still run the
service the way it is built to run. Usage (validate.sh calls it):

    check.py base|oracle RENDERED.yaml Dockerfile IMAGE_TAG

Each broken rule is printed on its own line; the exit code is 1 if any is broken.
"""

import os
import re
import sys

import yaml

DATA_SERVICE = "radar.interrupcoes.v1.InterrupcoesService"
SCHEDULER_SERVICE = "radar.scheduler.v1.SchedulerAdmin"
# Default of RADAR_SHUTDOWN_GRACE_SECS in src/config.
DEFAULT_SHUTDOWN_GRACE_SECS = 10
# Default of RADAR_SHUTDOWN_DRAIN_DELAY_SECS in src/config: the delay between NOT_SERVING
# and closing the listener, so endpoints drop the pod first.
DEFAULT_DRAIN_DELAY_SECS = 5


def dockerfile_user(path):
    """The numeric uid:gid of the Dockerfile's runtime (its first USER uid:gid line)."""
    for line in open(path):
        match = re.match(r"^USER\s+(\d+):(\d+)\s*$", line)
        if match:
            return int(match.group(1)), int(match.group(2))
    raise SystemExit(f"{path}: no 'USER uid:gid' line")


def main(variant, rendered, dockerfile, tag):
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    problems = []

    def need(condition, message):
        if not condition:
            problems.append(message)

    for kind in ("Deployment", "Service", "PodDisruptionBudget", "ConfigMap"):
        need(kind in by_kind, f"no {kind}")
    if problems:
        return problems

    (deployment,) = by_kind["Deployment"]
    (settings,) = by_kind["ConfigMap"]
    pod = deployment["spec"]["template"]["spec"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    (container,) = pod["containers"]
    env = settings.get("data", {})

    need(deployment["spec"]["replicas"] == 2, "the Deployment must run 2 replicas")
    image = container["image"]
    need(image.endswith(f":{tag}"), f"image {image} is not tagged with this revision ({tag})")
    expected = "radar-interrupcoes-oracle" if variant == "oracle" else "radar-interrupcoes"
    need(image.rsplit(":", 1)[0].rsplit("/", 1)[-1] == expected, f"image {image} is not {expected}")

    uid, gid = dockerfile_user(dockerfile)
    security = pod.get("securityContext", {})
    need(security.get("runAsNonRoot") is True, "pod securityContext.runAsNonRoot must be true")
    need(security.get("runAsUser") == uid, f"runAsUser must be the Dockerfile's user {uid}")
    need(security.get("runAsGroup") == gid, f"runAsGroup must be the Dockerfile's group {gid}")
    need(security.get("fsGroup") == gid, f"fsGroup must be {gid}, so the volumes are writable")
    csec = container.get("securityContext", {})
    need(csec.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem must be true")
    need(csec.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation must be false")
    need(csec.get("capabilities", {}).get("drop") == ["ALL"], "capabilities must drop ALL")

    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for path in ("/srv/radar-interrupcoes/data", "/tmp"):
        name = mounts.get(path)
        need(name is not None and "emptyDir" in volumes.get(name, {}),
             f"{path} must be an emptyDir (the root filesystem is read-only)")

    def grpc_probe(name, service):
        probe = container.get(name, {})
        grpc = probe.get("grpc", {})
        need(grpc.get("service") == service and grpc.get("port") == 50051,
             f"{name} must be a native grpc probe of {service!r} on port 50051")

    grpc_probe("startupProbe", DATA_SERVICE)
    grpc_probe("readinessProbe", DATA_SERVICE)
    grpc_probe("livenessProbe", SCHEDULER_SERVICE)

    grace = int(env.get("RADAR_SHUTDOWN_GRACE_SECS", DEFAULT_SHUTDOWN_GRACE_SECS))
    drain_delay = int(env.get("RADAR_SHUTDOWN_DRAIN_DELAY_SECS", DEFAULT_DRAIN_DELAY_SECS))
    termination = pod.get("terminationGracePeriodSeconds", 30)
    need(termination > grace + drain_delay,
         f"terminationGracePeriodSeconds {termination} must exceed RADAR_SHUTDOWN_GRACE_SECS "
         f"{grace} + RADAR_SHUTDOWN_DRAIN_DELAY_SECS {drain_delay}")

    memory = container.get("resources", {}).get("limits", {}).get("memory")
    need(memory is not None, "the container needs a memory limit")
    need(env.get("RADAR_LISTEN_ADDR", "0.0.0.0:50051").startswith("0.0.0.0:"),
         "RADAR_LISTEN_ADDR must listen on 0.0.0.0 in a pod")

    need(env.get("RADAR_ANEEL_LISTEN_ADDR", "0.0.0.0:8080").startswith("0.0.0.0:"),
         "RADAR_ANEEL_LISTEN_ADDR must listen on 0.0.0.0 in a pod")
    container_ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
    need(container_ports.get("aneel") == 8080, "the container must name port 8080 aneel")
    need(container_ports.get("metrics") == 9464, "the container must name port 9464 metrics")

    for service in by_kind["Service"]:
        selector = service["spec"].get("selector", {})
        need(selector and all(pod_labels.get(k) == v for k, v in selector.items()),
             f"Service {service['metadata']['name']} does not select the pods")
        ports = service["spec"]["ports"]
        # The ANEEL Service reaches the HTTP endpoint only; every other one the gRPC port.
        wanted = ("aneel", 8080) if service["metadata"]["name"].endswith("-aneel") else ("grpc", 50051)
        need(any(p.get("targetPort") in wanted for p in ports),
             f"Service {service['metadata']['name']} does not reach port {wanted[1]}")
    need(any(s["metadata"]["name"].endswith("-aneel") for s in by_kind["Service"]),
         "no Service for the ANEEL endpoint")
    (pdb,) = by_kind["PodDisruptionBudget"]
    pdb_selector = pdb["spec"].get("selector", {}).get("matchLabels", {})
    need(pdb_selector and all(pod_labels.get(k) == v for k, v in pdb_selector.items()),
         "the PodDisruptionBudget does not select the pods")

    def secret_file(variable, what):
        path = env.get(variable, "")
        directory, _, filename = path.rpartition("/")
        secret_volume = volumes.get(mounts.get(directory, ""), {}).get("secret")
        need(secret_volume is not None, f"{variable}={path} is not in a mounted Secret")
        if secret_volume:
            items = {i["path"]: i for i in secret_volume.get("items", [])}
            need(filename in items or not secret_volume.get("items"),
                 f"the Secret volume has no file {filename}")
            mode = items.get(filename, {}).get("mode", secret_volume.get("defaultMode", 0o644))
            need(mode & 0o040, f"the {what} file (mode {mode:o}) is not readable by fsGroup {gid}")
            need(not mode & 0o007, f"the {what} file (mode {mode:o}) is readable by others")

    if variant == "oracle":
        need(env.get("RADAR_SOURCE") == "oracle", "RADAR_SOURCE must be oracle")
        # The replicas share history and cron ticks only through a store they all reach.
        need(env.get("RADAR_STORE") == "oracle", "RADAR_STORE must be oracle")
        # render.sh merges the connection from its environment into the settings.
        for variable in ("RADAR_ORACLE_CONNECT_STRING", "RADAR_ORACLE_USER"):
            need(env.get(variable) == os.environ.get(variable),
                 f"{variable} is {env.get(variable)!r} in the settings, not render.sh's "
                 f"{os.environ.get(variable)!r}")
        need("RADAR_ORACLE_PASSWORD" not in env, "the password must not be in the ConfigMap")
        secret_file("RADAR_ORACLE_PASSWORD_FILE", "password")
        need("RADAR_ANEEL_API_KEYS" not in env, "ANEEL's keys must not be in the ConfigMap")
        secret_file("RADAR_ANEEL_API_KEYS_FILE", "ANEEL key")
    return problems


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    found = main(*sys.argv[1:])
    for problem in found:
        print(f"check.py {sys.argv[1]}: {problem}", file=sys.stderr)
    sys.exit(1 if found else 0)
