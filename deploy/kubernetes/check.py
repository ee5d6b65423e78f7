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
        # The ANEEL Service reaches the HTTP endpoint only, the metrics Service the
        # operations port only; every other one the gRPC port.
        suffix = service["metadata"]["name"].rsplit("-", 1)[-1]
        wanted = {"aneel": ("aneel", 8080), "metrics": ("metrics", 9464)}.get(suffix, ("grpc", 50051))
        need(all(p.get("targetPort") in wanted for p in ports),
             f"Service {service['metadata']['name']} reaches another port than {wanted[1]}")
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

    # Every namespaced object in the one namespace of the Namespace object.
    (namespace,) = by_kind.get("Namespace", [{"metadata": {"name": None}}])
    ns = namespace["metadata"]["name"]
    need(ns == os.environ.get("RADAR_NAMESPACE", "radar"), f"the Namespace is {ns!r}, not RADAR_NAMESPACE")
    need(namespace["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") == "restricted",
         "the Namespace must enforce the restricted Pod Security Standard")
    for doc in docs:
        if doc["kind"] != "Namespace":
            need(doc["metadata"].get("namespace") == ns,
                 f"{doc['kind']} {doc['metadata']['name']} is not in namespace {ns}")
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    need(annotations.get("prometheus.io/port") == "9464", "the pods lost their prometheus.io/port annotation")

    problems.extend(network_policy(by_kind, pod_labels, container_ports))
    problems.extend(monitoring(by_kind, pod_labels))
    problems.extend(ingress(by_kind))

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


def network_policy(by_kind, pod_labels, container_ports):
    """The NetworkPolicy opens each port to its own peers only, chosen by namespace label."""
    problems = []
    policies = by_kind.get("NetworkPolicy", [])
    if len(policies) != 1:
        return [f"{len(policies)} NetworkPolicies, not 1"]
    spec = policies[0]["spec"]
    selector = spec["podSelector"].get("matchLabels", {})
    if not selector or any(pod_labels.get(k) != v for k, v in selector.items()):
        problems.append("the NetworkPolicy does not select the pods")
    if spec.get("policyTypes") != ["Ingress"]:
        problems.append("the NetworkPolicy must restrict ingress only (the pods reach Oracle)")
    opened = {}
    for rule in spec.get("ingress", []):
        peers = rule.get("from", [])
        # A podSelector next to the namespaceSelector would get the kustomize labels of the
        # pods injected, and select nothing in the peer namespace.
        if not peers or any(set(peer) != {"namespaceSelector"} for peer in peers):
            problems.append(f"NetworkPolicy rule {rule} must name its peers by namespaceSelector only")
        for port in rule.get("ports", []):
            opened[port["port"]] = [peer["namespaceSelector"].get("matchLabels", {}) for peer in peers]
    wanted = {"aneel": "radar-interrupcoes/ingress", "metrics": "radar-interrupcoes/monitoring",
              "grpc": "radar-interrupcoes/grpc-client"}
    for port, label in wanted.items():
        if port not in container_ports:
            problems.append(f"the NetworkPolicy opens port {port}, which the container does not name")
        if opened.get(port) != [{label: "true"}]:
            problems.append(f"the NetworkPolicy must open port {port} to namespaces labelled {label}=true only")
    for port in set(opened) - set(wanted):
        problems.append(f"the NetworkPolicy opens port {port}, which nothing needs")
    return problems


def monitoring(by_kind, pod_labels):
    """The monitoring component: its ServiceMonitor scrapes the metrics Service, which reaches
    every pod; its PrometheusRule holds exactly the rules of deploy/prometheus/alerts.yml."""
    monitors = by_kind.get("ServiceMonitor", [])
    rules = by_kind.get("PrometheusRule", [])
    if not monitors and not rules:
        return []
    problems = []
    if len(monitors) != 1 or len(rules) != 1:
        return [f"the monitoring component renders {len(monitors)} ServiceMonitors and {len(rules)} PrometheusRules, not 1 each"]
    (monitor,) = monitors
    selector = monitor["spec"]["selector"].get("matchLabels", {})
    selected = [s for s in by_kind["Service"]
                if all(s["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())]
    if [s["metadata"]["name"] for s in selected] != ["radar-interrupcoes-metrics"]:
        problems.append(f"the ServiceMonitor selects {[s['metadata']['name'] for s in selected]}, not radar-interrupcoes-metrics")
    else:
        ports = {p["name"] for p in selected[0]["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            if endpoint.get("port") not in ports:
                problems.append(f"the ServiceMonitor scrapes port {endpoint.get('port')}, which its Service does not name")
            if endpoint.get("path", "/metrics") != "/metrics":
                problems.append("the ServiceMonitor must scrape /metrics")
    # The alert rules select targets by the pods' app.kubernetes.io/name label.
    if "app.kubernetes.io/name" not in monitor["spec"].get("podTargetLabels", []) \
            or "app.kubernetes.io/name" not in pod_labels:
        problems.append("the ServiceMonitor must copy the pods' app.kubernetes.io/name label (podTargetLabels)")
    alerts = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "prometheus", "alerts.yml")
    with open(alerts, encoding="utf-8") as f:
        groups = yaml.safe_load(f)["groups"]
    if rules[0]["spec"]["groups"] != groups:
        problems.append("the PrometheusRule's groups differ from deploy/prometheus/alerts.yml: run deploy/prometheus/prometheusrule.py")
    return problems


def ingress(by_kind):
    """The ANEEL Ingress exposes one exact path, over TLS, to ANEEL's source ranges."""
    ingresses = by_kind.get("Ingress", [])
    if not ingresses:
        return []
    if len(ingresses) != 1:
        return [f"{len(ingresses)} Ingresses, not 1"]
    problems = []
    (ing,) = ingresses
    spec = ing["spec"]
    paths = [(rule.get("host"), p) for rule in spec["rules"] for p in rule["http"]["paths"]]
    for host, path in paths:
        backend = path["backend"]["service"]
        if (path["path"], path["pathType"]) != ("/quantitativointerrupcoesativas", "Exact"):
            problems.append(f"the Ingress exposes {path['path']} ({path['pathType']}), not only the ANEEL path")
        if (backend["name"], backend["port"].get("name")) != ("radar-interrupcoes-aneel", "aneel"):
            problems.append(f"the Ingress reaches {backend}, not the ANEEL Service's port aneel")
        if not any(host in t.get("hosts", []) and t.get("secretName") for t in spec.get("tls", [])):
            problems.append(f"the Ingress serves {host} without TLS from a Secret")
    ranges = ing["metadata"].get("annotations", {}).get("nginx.ingress.kubernetes.io/whitelist-source-range", "")
    if not ranges or "RADAR_" in ranges:
        problems.append("the Ingress has no source ranges (RADAR_ANEEL_SOURCE_RANGES)")
    return problems


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    found = main(*sys.argv[1:])
    for problem in found:
        print(f"check.py {sys.argv[1]}: {problem}", file=sys.stderr)
    sys.exit(1 if found else 0)
