#!/usr/bin/env python3
"""A throwaway Kubernetes control plane on loopback, for tests: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok (fake nodes and pod lifecycles), built by
scripts/peers/kubernetes.sh.

    with ControlPlane(stages=STAGES) as cluster:
        cluster.kubectl("get", "nodes")            # or KUBECONFIG=cluster.kubeconfig
        ...

    python3 scripts/kubecluster.py up DIR     starts one, writes DIR/kubeconfig, waits for Ctrl-C

Every address is on loopback: etcd, the API server and the controllers listen on 127.0.0.1 (free
ports, no fixed ones), the Service range is 127.96.0.0/16 (never routed: nothing proxies it), kwok's
node is 127.0.0.2 and its pod IPs come from 127.64.0.0/16, and nothing serves a kubelet port, so the
API server's log and exec calls fail at once on loopback.

Certificates are made with openssl: a CA, the API server's serving certificate (127.0.0.1,
localhost), an admin client certificate (O=system:masters) for the controllers and the tests, and
an RSA key that signs and verifies service-account tokens. Pod Security admission is on (it is in
the default plugin set); label a namespace to enforce a level.

kwok's Stages decide what each pod does. Pass `stages` (kwok Stage YAML for pods) to replace its
defaults, as scripts/check-cluster.py does to make some pods fail or stall."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import checklib  # noqa: E402
NODE_IP = "127.0.0.2"
POD_CIDR = "127.64.0.1/16"
SERVICE_CIDR = "127.96.0.0/16"


def binaries():
    """{name: path} from scripts/peers/kubernetes.sh (built once, then cached)."""
    return {os.path.basename(p): p for p in checklib.peer("kubernetes")}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(d):
    """CA, API server serving cert, admin client cert, service-account key pair."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "2", "-subj", "/CN=schema-gate-test-ca", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default\n"
                "extendedKeyUsage=serverAuth\n")
    with open(os.path.join(d, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for name, subj, ext in (("server", "/CN=kube-apiserver", "server.ext"),
                            ("admin", "/O=system:masters/CN=admin", "client.ext")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", subj, cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", ext, cwd=d)
    openssl("genrsa", "-out", "sa.key", "2048", cwd=d)
    openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)


def kubeconfig(path, server, ca, user_lines):
    with open(path, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {{server: "{server}", certificate-authority: "{ca}"}}
users:
- name: user
  user: {{{user_lines}}}
contexts:
- name: test
  context: {{cluster: test, user: user}}
current-context: test
""")


class ControlPlane:
    def __init__(self, stages=None, workdir=None, audit=False, log=sys.stderr):
        self.bins = binaries()
        self.stages = stages
        self.audit = os.path.join(workdir or "", "audit.log") if audit else None
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="schema-gate-k8s-")
        self.procs = []
        self.log = log
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.server = None
        if audit:
            self.audit = os.path.join(self.dir, "audit.log")

    # -- processes ---------------------------------------------------------------------------

    def _start(self, name, args):
        out = open(os.path.join(self.dir, f"{name}.log"), "w")
        p = subprocess.Popen([self.bins[name], *args], stdout=out, stderr=subprocess.STDOUT,
                             cwd=self.dir, start_new_session=True)
        self.procs.append((name, p))
        return p

    def _wait(self, what, probe, limit=180):
        started = time.monotonic()
        while time.monotonic() - started < limit:
            for name, p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited ({p.returncode}) while waiting for {what}: "
                                       + self.tail(name))
            if probe():
                return
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what}")

    def tail(self, name, lines=30):
        try:
            with open(os.path.join(self.dir, f"{name}.log")) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def kubectl(self, *args, check=True, input=None, kubeconfig=None, timeout=120):
        r = subprocess.run(["kubectl", "--kubeconfig", kubeconfig or self.kubeconfig, *args],
                           capture_output=True, text=True, input=input, timeout=timeout)
        if check and r.returncode:
            raise RuntimeError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
        return r

    def start(self):
        d = self.dir
        make_certs(d)
        etcd_client, etcd_peer, api = free_port(), free_port(), free_port()
        self._start("etcd", [
            "--name=test", f"--data-dir={d}/etcd",
            f"--listen-client-urls=http://127.0.0.1:{etcd_client}",
            f"--advertise-client-urls=http://127.0.0.1:{etcd_client}",
            f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-cluster=test=http://127.0.0.1:{etcd_peer}",
            "--listen-metrics-urls=", "--unsafe-no-fsync", "--log-level=warn"])
        self.server = f"https://127.0.0.1:{api}"
        self._start("kube-apiserver", [
            f"--etcd-servers=http://127.0.0.1:{etcd_client}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={api}",
            f"--tls-cert-file={d}/server.crt", f"--tls-private-key-file={d}/server.key",
            f"--client-ca-file={d}/ca.crt",
            f"--service-account-key-file={d}/sa.pub", f"--service-account-signing-key-file={d}/sa.key",
            f"--service-account-issuer={self.server}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC", "--endpoint-reconciler-type=none",
            "--enable-priority-and-fairness=false", "--profiling=false", "--allow-privileged=false",
            "--kubelet-preferred-address-types=InternalIP", "--v=0", *self._audit_args()])
        kubeconfig(self.kubeconfig, self.server, f"{d}/ca.crt",
                   f'client-certificate: "{d}/admin.crt", client-key: "{d}/admin.key"')
        self._wait("the API server", lambda: self.kubectl("get", "--raw", "/readyz", check=False).returncode == 0)
        self._start("kube-controller-manager", [
            f"--kubeconfig={self.kubeconfig}", f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            f"--service-account-private-key-file={d}/sa.key", f"--root-ca-file={d}/ca.crt",
            "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0",
            "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route",
            "--concurrent-job-syncs=2", "--v=0"])
        self._start("kube-scheduler", [
            f"--kubeconfig={self.kubeconfig}", f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0", "--v=0"])
        kwok_args = [f"--kubeconfig={self.kubeconfig}", "--manage-all-nodes=true",
                     f"--node-ip={NODE_IP}", f"--cidr={POD_CIDR}", "--node-lease-duration-seconds=40"]
        if self.stages:
            path = os.path.join(d, "kwok-stages.yaml")
            with open(path, "w") as f:
                f.write(self.stages)
            kwok_args.append(f"--config={path}")
        self._start("kwok", kwok_args)
        self.kubectl("apply", "-f", "-", input=NODE)
        self._wait("the kwok node to be Ready", lambda: "True" in self.kubectl(
            "get", "node", "kwok-node-0", "-o",
            "jsonpath={.status.conditions[?(@.type=='Ready')].status}", check=False).stdout)
        # The Job and Deployment controllers are running once the default ServiceAccount exists.
        self.kubectl("create", "namespace", "probe-controllers")
        self._wait("kube-controller-manager", lambda: self.kubectl(
            "-n", "probe-controllers", "get", "serviceaccount", "default", check=False).returncode == 0)
        self.kubectl("delete", "namespace", "probe-controllers", "--wait=false")
        return self

    def _audit_args(self):
        if not self.audit:
            return []
        policy = os.path.join(self.dir, "audit-policy.yaml")
        with open(policy, "w") as f:
            f.write(AUDIT_POLICY)
        return [f"--audit-policy-file={policy}", f"--audit-log-path={self.audit}", "--audit-log-mode=blocking"]

    def writes(self):
        """Every audited write, in the order the API server completed them: dicts with verb,
        resource, namespace, name, code, user."""
        import json
        out = []
        try:
            with open(self.audit) as f:
                for line in f:
                    e = json.loads(line)
                    ref = e.get("objectRef") or {}
                    out.append({"verb": e.get("verb"), "resource": ref.get("resource"),
                                "subresource": ref.get("subresource"),
                                "namespace": ref.get("namespace"), "name": ref.get("name"),
                                "code": (e.get("responseStatus") or {}).get("code"),
                                "user": (e.get("user") or {}).get("username"),
                                "agent": e.get("userAgent", "")})
        except OSError:
            pass
        return out

    def token_kubeconfig(self, namespace, serviceaccount):
        """A kubeconfig that authenticates as a ServiceAccount (a TokenRequest token)."""
        token = self.kubectl("-n", namespace, "create", "token", serviceaccount, "--duration=2h").stdout.strip()
        path = os.path.join(self.dir, f"kubeconfig-{namespace}-{serviceaccount}")
        kubeconfig(path, self.server, f"{self.dir}/ca.crt", f'token: "{token}"')
        return path

    def stop(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name, p in reversed(self.procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs = []
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()


# What the tests read back: writes to the objects deploy.sh touches, in order.
AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete]
    resources:
      - {group: "", resources: [configmaps, pods]}
      - {group: batch, resources: [jobs]}
      - {group: apps, resources: [deployments]}
      - {group: coordination.k8s.io, resources: [leases]}
  - level: None
"""

NODE = """apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/hostname: kwok-node-0, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
spec: {}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
  nodeInfo: {architecture: amd64, operatingSystem: linux, kubeletVersion: fake, kubeProxyVersion: fake}
"""


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "up":
        sys.exit("usage: kubecluster.py up DIR   (starts a control plane, writes DIR/kubeconfig, Ctrl-C stops it)")
    os.makedirs(sys.argv[2], exist_ok=True)
    cluster = ControlPlane(workdir=os.path.abspath(sys.argv[2]))
    with cluster:
        print(f"KUBECONFIG={cluster.kubeconfig}", flush=True)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
