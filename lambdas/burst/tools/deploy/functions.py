"""The functions as deployed: their memory, timeouts and settings, in plain values.

The CDK's function table (stacks/controller/functions.py) is built from these; `burst
invoke` and the harness give a handler the same timeout and memory; benchmarks model
Lambda's queue with them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from burst.core.names import METRICS_NAMESPACE, SERVICE
from burst.core.policy import SCALER_PERIOD

if TYPE_CHECKING:  # `burst invoke` reads the timeouts; only the CDK and doctor a config
    from burst.tools.deploy.config import DeployConfig

# Every function's memory (and so its CPU share): the Kubernetes client and Powertools
# import faster with more CPU. Idle cost is this times the seconds run (README, "Watch or poll").
MEMORY_MB = 512

# The scaler's timeout by deployment `scaler.mode` (config.SCALER_MODES). An invocation
# ends before the next tick is due, measured from its tick's time
# (burst.loop.watch.must_end), so the timeout is a backstop, never the plan: had it to end a
# watch, every tick would start a little later than the last, each throttled tick waiting in
# Lambda's async queue (retried after 1 s, then at doubling intervals up to 5 min) until one
# passes max_event_age and is dropped to the failure queue. ("How Lambda handles errors and
# retries with asynchronous invocation", Lambda developer guide; benchmarks/cpu/scaler_minute.py)
# watch: the period, which an invocation started at or after its tick cannot reach before
# the next tick is due. poll: one reconcile; room for a call that hits the client's timeouts
# and still done before the next tick, if its own was delivered up to 20 s late.
SCALER_TIMEOUTS = {"watch": SCALER_PERIOD, "poll": timedelta(seconds=40)}
# A tick that cannot run now is worthless a minute later: the next one reconciles.
SCALER_MAX_EVENT_AGE = timedelta(seconds=60)
# Each function's timeout (the scaler's in watch mode; specs(mode) in the CDK sets the
# deployment's).
TIMEOUTS = {"scaler": SCALER_TIMEOUTS["watch"], "lifecycle": timedelta(minutes=5),
            "tokens": timedelta(seconds=60)}


def environment(config: DeployConfig, *, join_key_arn: str, function: str) -> dict[str, str]:
    """Every setting `function` receives. Handlers read these names and nothing else."""
    return {
        "FPGA_BURST_CLUSTER_NAME": config.cluster_name,
        "FPGA_BURST_API_ENDPOINT": config.api_endpoint,
        "FPGA_BURST_CONTROLLER_ENDPOINT": config.controller_endpoint,
        # Its own credentials: its own ServiceAccount (the RBAC manifest, rbac.yaml).
        "FPGA_BURST_CREDENTIALS_SECRET_ARN": config.credentials_secret_arns[function],
        "FPGA_BURST_JOIN_PARAMETER": config.join_parameter_name,
        "FPGA_BURST_JOIN_KEY_ID": join_key_arn,
        "FPGA_BURST_CONFIG": config.runtime_json(),
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
