#!/usr/bin/env python3
"""Turns deploy/k8s/ into what `podman kube play` (podman 4.3, Debian 12) can run here.

Only what podman cannot do is changed; each change is listed below. Everything else
(images, args, the ConfigMap with deploy/authgate.toml, the Secret mounted as a file and
as env, securityContext: non-root uid 65532, read-only root, no capabilities,
seccomp RuntimeDefault, fsGroup for /data) runs as written.

- The native sidecar (an initContainer with restartPolicy: Always) becomes the first
  regular container: podman runs init containers to completion before the pod starts.
- Probes are dropped: podman turns them into healthchecks that run curl inside the
  container (the images have none) from systemd timers (this machine has no systemd).
  smoke.sh checks readiness and liveness over HTTP itself.
- lifecycle.preStop (the sleep action) is dropped: podman has no preStop hooks.
- The Secret, Service and NetworkPolicy documents are dropped: podman 4.3 writes a
  Secret's base64 `data` into mounted files undecoded and cannot parse it for env, so
  smoke.sh creates two podman secrets itself: `authgate-secrets` (raw values, for the
  volume) and `authgate-secrets-env` (JSON of base64 values, for secretKeyRef env).
- containerPort lists are dropped (podman refuses them with --network host), and
  listen addresses and URLs become loopback addresses of this machine; the JWKS
  URL, issuer and audience point at the test issuer.

Usage: podman-kube.py K8S_DIR OUT.yaml KEY=VALUE...   (env overrides; see smoke.sh)
A value "@secret:KEY" becomes a secretKeyRef to KEY of the env-format podman secret.
"""

import sys

import yaml

ENV_SECRET_SUFFIX = "-env"


def load(k8s_dir):
    docs = []
    with open(f"{k8s_dir}/kustomization.yaml", encoding="utf-8") as f:
        resources = yaml.safe_load(f)["resources"]
    for res in resources:
        with open(f"{k8s_dir}/{res}", encoding="utf-8") as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
    return docs


def set_env(container, overrides):
    env = [e for e in container.get("env") or [] if e["name"] not in overrides]
    for name, value in overrides.items():
        if value.startswith("@secret:"):
            env.append({"name": name, "valueFrom": {"secretKeyRef": {
                "name": "authgate-secrets" + ENV_SECRET_SUFFIX, "key": value[8:]}}})
        else:
            env.append({"name": name, "value": value})
    container["env"] = env


def main(k8s_dir, out_path, pairs):
    overrides = {}
    for pair in pairs:
        container, _, kv = pair.partition(":")
        name, _, value = kv.partition("=")
        overrides.setdefault(container, {})[name] = value
    out = []
    for doc in load(k8s_dir):
        if doc["kind"] in ("Secret", "Service", "NetworkPolicy"):
            continue
        if doc["kind"] == "Deployment":
            spec = doc["spec"]["template"]["spec"]
            sidecars = [c for c in spec.pop("initContainers", [])
                        if c.pop("restartPolicy", None) == "Always"]
            spec["containers"] = sidecars + spec["containers"]
            for c in spec["containers"]:
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    c.pop(probe, None)
                c.pop("lifecycle", None)
                # podman refuses port mappings on the host network.
                c.pop("ports", None)
                for e in c.get("env") or []:
                    ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                    if ref:
                        ref["name"] += ENV_SECRET_SUFFIX
                set_env(c, overrides.get(c["name"], {}))
            for vol in spec.get("volumes") or []:
                if "secret" in vol:
                    # podman 4.3 dereferences `optional` without a nil check.
                    vol["secret"]["optional"] = False
        out.append(doc)
    with open(out_path, "w", encoding="utf-8") as f:
        yaml.safe_dump_all(out, f, sort_keys=False)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: podman-kube.py K8S_DIR OUT.yaml CONTAINER:NAME=VALUE...")
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
