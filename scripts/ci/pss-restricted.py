#!/usr/bin/env python3
"""Checks Kubernetes manifests against the Pod Security Standards "restricted" profile.

No packaged evaluator of the Pod Security Standards is available from the registries this
project may use (the reference one is the Go package k8s.io/pod-security-admission), so
this is a direct implementation of every control of the published standard, version
"latest" (https://kubernetes.io/docs/concepts/security/pod-security-standards/): all of
"baseline" plus the "restricted" ones. It checks every pod template it finds (Pod,
Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob) and every container kind
(containers, initContainers, ephemeralContainers).

Two rules of this project's own, beyond the standard, are checked as well:
readOnlyRootFilesystem: true on every container, automountServiceAccountToken: false.

Usage: pss-restricted.py FILE... ; exit 0 when everything passes, 1 with one line per
violation otherwise, 2 on unreadable input.
"""

import sys

import yaml

BASELINE_CAPS = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}
CONTAINER_KINDS = ("containers", "initContainers", "ephemeralContainers")
APPARMOR_ANN = "container.apparmor.security.beta.kubernetes.io/"
SECCOMP_ANN = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CTR_ANN = "container.seccomp.security.alpha.kubernetes.io/"


def pod_templates(doc):
    """(where, pod metadata, pod spec) for each pod spec in a manifest."""
    kind = doc.get("kind")
    name = f"{kind}/{(doc.get('metadata') or {}).get('name', '?')}"
    spec = doc.get("spec") or {}
    if kind == "Pod":
        yield name, doc.get("metadata") or {}, spec
    elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job",
                  "ReplicationController"):
        t = spec.get("template") or {}
        yield name, t.get("metadata") or {}, t.get("spec") or {}
    elif kind == "CronJob":
        t = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        yield name, t.get("metadata") or {}, t.get("spec") or {}


def check_pod(meta, spec):
    """Every violation of the restricted profile (and the project rules) in one pod."""
    out = []
    psc = spec.get("securityContext") or {}
    ann = meta.get("annotations") or {}
    windows = (spec.get("os") or {}).get("name") == "windows"
    containers = [(k, c) for k in CONTAINER_KINDS for c in spec.get(k) or []]

    # --- baseline ---
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            out.append(f"{field} must be unset or false")
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        out.append("securityContext.windowsOptions.hostProcess must be unset or false")
    for vol in spec.get("volumes") or []:
        kinds = [k for k in vol if k != "name"]
        if "hostPath" in kinds:
            out.append(f"volume {vol.get('name')}: hostPath volumes are forbidden")
        elif not set(kinds) <= RESTRICTED_VOLUMES:
            out.append(f"volume {vol.get('name')}: type {kinds} is not allowed "
                       f"(only {sorted(RESTRICTED_VOLUMES)})")
    for sysctl in psc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            out.append(f"sysctl {sysctl.get('name')} is not in the safe set")
    out += check_selinux("securityContext", psc)
    out += check_apparmor("securityContext", psc)
    for key, value in ann.items():
        if key.startswith(APPARMOR_ANN) and not (
                value == "runtime/default" or value.startswith("localhost/")):
            out.append(f"annotation {key}={value}: AppArmor must be runtime/default or localhost/*")
        if (key == SECCOMP_ANN or key.startswith(SECCOMP_CTR_ANN)) and value == "unconfined":
            out.append(f"annotation {key}: seccomp must not be unconfined")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if pod_seccomp == "Unconfined":
        out.append("securityContext.seccompProfile.type must not be Unconfined")

    # --- restricted, pod level ---
    if psc.get("runAsUser") == 0:
        out.append("securityContext.runAsUser must not be 0")
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        out.append(f"securityContext.seccompProfile.type {pod_seccomp} is not allowed")

    # --- project rules ---
    if spec.get("automountServiceAccountToken") is not False:
        out.append("automountServiceAccountToken must be false (project rule)")

    for kind, c in containers:
        where = f"{kind}[{c.get('name', '?')}]"
        sc = c.get("securityContext") or {}
        caps = sc.get("capabilities") or {}
        # baseline
        if sc.get("privileged"):
            out.append(f"{where}: privileged must be unset or false")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            out.append(f"{where}: windowsOptions.hostProcess must be unset or false")
        for p in c.get("ports") or []:
            if p.get("hostPort", 0) not in (0, None):
                out.append(f"{where}: hostPort must be unset or 0")
        if sc.get("procMount", "Default") != "Default":
            out.append(f"{where}: procMount must be Default")
        out += check_selinux(f"{where}.securityContext", sc)
        out += check_apparmor(f"{where}.securityContext", sc)
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if seccomp is not None and seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{where}: seccompProfile.type {seccomp} is not allowed")
        added = set(caps.get("add") or [])
        if not added <= BASELINE_CAPS:
            out.append(f"{where}: capabilities.add {sorted(added - BASELINE_CAPS)} beyond baseline")
        # restricted
        if not windows:
            if sc.get("allowPrivilegeEscalation") is not False:
                out.append(f"{where}: allowPrivilegeEscalation must be false")
            if seccomp is None and pod_seccomp is None:
                out.append(f"{where}: seccompProfile RuntimeDefault or Localhost must be set "
                           "(pod or container)")
            if "ALL" not in (caps.get("drop") or []):
                out.append(f"{where}: capabilities.drop must include ALL")
            if not added <= {"NET_BIND_SERVICE"}:
                out.append(f"{where}: capabilities.add may only contain NET_BIND_SERVICE")
        if sc.get("runAsNonRoot") is False or (
                sc.get("runAsNonRoot") is not True and psc.get("runAsNonRoot") is not True):
            out.append(f"{where}: runAsNonRoot must be true (pod or container)")
        if sc.get("runAsUser") == 0:
            out.append(f"{where}: runAsUser must not be 0")
        # project rule
        if sc.get("readOnlyRootFilesystem") is not True:
            out.append(f"{where}: readOnlyRootFilesystem must be true (project rule)")
    return out


def check_selinux(where, sc):
    opts = sc.get("seLinuxOptions") or {}
    out = []
    if opts.get("type", "") not in SELINUX_TYPES:
        out.append(f"{where}.seLinuxOptions.type {opts.get('type')} is not allowed")
    for field in ("user", "role"):
        if opts.get(field):
            out.append(f"{where}.seLinuxOptions.{field} must be unset")
    return out


def check_apparmor(where, sc):
    t = (sc.get("appArmorProfile") or {}).get("type")
    if t not in (None, "RuntimeDefault", "Localhost"):
        return [f"{where}.appArmorProfile.type {t} is not allowed"]
    return []


def main(paths):
    if not paths:
        print(__doc__.strip().splitlines()[-3], file=sys.stderr)
        return 2
    failures, pods = 0, 0
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                docs = [d for d in yaml.safe_load_all(f) if d]
        except (OSError, yaml.YAMLError) as e:
            print(f"pss-restricted: {path}: {e}", file=sys.stderr)
            return 2
        for doc in docs:
            for name, meta, spec in pod_templates(doc):
                pods += 1
                problems = check_pod(meta, spec)
                for p in problems:
                    print(f"{path}: {name}: {p}")
                failures += len(problems)
                if not problems:
                    print(f"{path}: {name}: passes Pod Security 'restricted'")
    if pods == 0:
        print("pss-restricted: no pod template found", file=sys.stderr)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
