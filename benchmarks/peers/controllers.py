"""The controllers under test, each started against the stage of world.py and stopped
after the workload: fpga-burst's scaler as Lambda runs it, Cluster Autoscaler as a process,
Karpenter (kwok provider) as processes (karpenter.py).

A `Controller` is a name, the settings it runs with (printed beside the figures) and
whether its nodes register with the CA startup taint (a node-side setting that belongs to
that controller's best documented set-up).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import world

from burst.adapters.aws.adapter import Aws, AwsSettings
from burst.adapters.kube.client import Kube
from burst.handlers import runtime, scaler
from burst.tools.harness import moto
from burst.tools.harness.context import LambdaContext
from burst.tools.harness.events import scheduled_event
from burst.tools.harness.net import free_port
from burst.tools.harness.stage import identities


@dataclass(frozen=True)
class Controller:
    name: str
    kind: str  # "fpga-burst" | "cluster-autoscaler" | "karpenter"
    settings: tuple[str, ...]  # what it runs with beyond its defaults, as printed
    startup_taint: bool = False
    tick: float = 60.0  # fpga-burst: the EventBridge schedule (and the Lambda timeout)
    disruption: tuple[tuple[str, Any], ...] = ()  # Karpenter: the NodePool's, over defaults


def controllers(ca_binary: Path | None, karpenter: bool) -> list[Controller]:
    found = [Controller("fpga-burst", "fpga-burst",
                        ("defaults: 1-min schedule, watch mode, adaptive scale-down",))]
    if ca_binary is not None:
        found += [
            Controller("CA default", "cluster-autoscaler", ()),
            # The CA FAQ: a lower --scan-interval acts sooner; startup taints make a node
            # without its boards count as upcoming; scale-down timers shortened.
            Controller("CA tuned", "cluster-autoscaler",
                       ("--scan-interval=1s", "--scale-down-unneeded-time=1m",
                        "--scale-down-delay-after-add=1m"), startup_taint=True),
        ]
    if karpenter:
        found += [
            # Karpenter's defaults: batches of pods (1 s idle, 10 s at most), NodePool
            # disruption WhenEmptyOrUnderutilized after 0 s, at most 10 % of nodes at once.
            Controller("Karpenter default", "karpenter", ()),
            # Disruption budgets (karpenter.sh docs, "Disruption"): "100%" lets every empty
            # node go in one pass instead of one node in ten.
            Controller("Karpenter tuned", "karpenter",
                       ("NodePool spec.disruption.budgets: [{nodes: 100%}]",),
                       disruption=(("budgets", [{"nodes": "100%"}]),)),
        ]
    return found


# -- fpga-burst ---------------------------------------------------------------------------

@dataclass
class BurstRunner:
    """EventBridge's schedule: one scaler invocation after the other (reserved concurrency
    1), each with a `tick`-second Lambda context, the config the CDK would write."""

    controller: Controller
    admin: Kube
    kubeconfig: Path
    endpoint: str
    stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        moto.MotoView(self.endpoint).store_credentials(identities(self.admin, self.kubeconfig))
        env = moto.environment(self.endpoint)
        document = json.loads(env["FPGA_BURST_CONFIG"])
        # The defaults a deployment gets: no policy or watch overrides.
        document.pop("policy", None)
        document.pop("watch", None)
        env["FPGA_BURST_CONFIG"] = json.dumps(document)
        os.environ.update(env)
        runtime.config.cache_clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        cfg = runtime.config()
        while not self.stop.is_set():
            built = runtime.adapters(cfg, Aws(settings=AwsSettings(
                region=cfg.region, endpoint_url=cfg.aws_endpoint_url)))
            try:
                scaler.run(scheduled_event(), LambdaContext(self.controller.tick), cfg=cfg,
                           adapters=built)
            except Exception as exc:
                if not self.stop.is_set():  # after the run its stage is gone: expected
                    print(f"  scaler invocation failed: {exc}")
            finally:
                built.close()
                runtime.metrics.clear_metrics()

    def close(self) -> None:
        self.stop.set()
        if self._thread is not None:
            # An invocation watches until its deadline; the stage it watches is about to
            # go, so it is not waited for.
            self._thread.join(timeout=2)
        runtime.config.cache_clear()


# -- Cluster Autoscaler ---------------------------------------------------------------------

CA_FLAGS = (
    "--cloud-provider=aws",
    # Instance types from the built-in list (it has f2.*), not from AWS's pricing API.
    "--aws-use-static-instance-list=true",
    f"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
    f"k8s.io/cluster-autoscaler/{world.CLUSTER}",
    "--leader-elect=false",
)


def cloud_config(endpoint: str) -> str:
    """ServiceOverride sections (cloudprovider/aws/aws_sdk_provider.go) put CA's Auto Scaling
    and EC2 calls on moto_server."""
    sections = []
    for number, service in enumerate(("autoscaling", "ec2"), start=1):
        sections.append(f'[ServiceOverride "{number}"]\nService = {service}\n'
                        f"Region = {world.REGION}\nURL = {endpoint}\n"
                        f"SigningRegion = {world.REGION}\n")
    return "[Global]\n\n" + "\n".join(sections)


@dataclass
class CaRunner:
    controller: Controller
    binary: Path
    kubeconfig: Path
    endpoint: str
    workdir: Path
    _proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        config = self.workdir / "cloud-config.ini"
        config.write_text(cloud_config(self.endpoint))
        argv = [str(self.binary), *CA_FLAGS, f"--kubeconfig={self.kubeconfig}",
                f"--cloud-config={config}", f"--address=127.0.0.1:{free_port()}",
                *self.controller.settings]
        env = {**os.environ, "AWS_REGION": world.REGION, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true"}
        env.pop("AWS_PROFILE", None)
        log = (self.workdir / "cluster-autoscaler.log").open("wb")
        self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)

    def close(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

