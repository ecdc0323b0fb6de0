# Two commands for users: `make demo` and `make test`. Everything else is a building block.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
CHECKOV_VENV := build/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell cat tools/checkov/requirements.txt | sha256sum | cut -c1-12)

.PHONY: demo test lint typecheck unit integration controlplane bench clean cdk-test cdk-cli synth checkov \
	device-plugin-test node venv

$(STAMP): pyproject.toml
	rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,cdk,bench,sim]'
	touch $@

# .venv with the pinned dependencies and the `burst` command (README, "Deploying to AWS").
venv: $(STAMP)

# The test control plane's binaries (tools/controlplane/build.sh builds them once, then
# prints their folder); the harness (burst.tools.harness.controlplane) finds them here.
CONTROLPLANE_BIN = FPGA_BURST_CONTROLPLANE_BIN="$$(tools/controlplane/build.sh)"

# The seed evaluation end to end: real control plane (built by tools/controlplane if Go is
# here; else, its variable empty, the same story on the simulator), moto, the three
# handlers. Writes report/.
demo: $(STAMP)
	$(CONTROLPLANE_BIN) $(BIN)/burst demo --report report

test: lint typecheck unit device-plugin-test integration cdk-test

lint: $(STAMP)
	$(BIN)/ruff check lambdas tests benchmarks stacks app.py tools

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

# The integration tests start a real kube-apiserver + etcd built by tools/controlplane, and
# a real node (tests/integration/test_real_node.py) with what `node` provides. -rP shows what
# a passing test printed: the real node's join, its device plugin and its pod's devices.
integration: $(STAMP) controlplane node
	$(CONTROLPLANE_BIN) $(BIN)/pytest tests/integration -q -rP

controlplane:
	tools/controlplane/build.sh

# A real node on this machine: the node image's container runtime step (Debian's containerd,
# runc and CNI plugins; root and apt-get work here), busybox-static for the test's images,
# an AWS CLI for the bootstrap script; kubelet, kubeadm and kube-controller-manager built
# like the control plane (cached outside the checkout); the device plugin.
node: controlplane
	image/node/install.sh runtime
	@dpkg-query -W -f='$${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' \
		|| DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static
	@command -v aws >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q awscli
	tools/node/build.sh >/dev/null
	image/device-plugin/build.sh >/dev/null

# The node's FPGA device plugin (Go): discovery, health and Allocate on fake device trees.
device-plugin-test:
	cd image/device-plugin && go vet ./... && go test ./...

# CDK assertions, cdk-nag, cfn-lint and checkov on the synthesized app; the node bootstrap script.
cdk-test: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/pytest tests/cdk -q

# checkov in its own venv: its exact pins (boto3, packaging) exclude the project's.
checkov: $(CHECKOV_STAMP)

$(CHECKOV_STAMP): tools/checkov/requirements.txt
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

# The AWS CDK CLI pinned in package.json / package-lock.json.
cdk-cli: node_modules/.bin/cdk

node_modules/.bin/cdk: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Writes cdk.out with no AWS credentials: explicit account and region, no lookups.
# `make synth CONFIG=my-cluster.yaml` synthesizes your configuration (default: cdk.json's).
synth: $(STAMP) cdk-cli
	AWS_EC2_METADATA_DISABLED=true npx --no-install cdk synth --no-notices --quiet \
		$(if $(CONFIG),-c fpga-burst:config=$(CONFIG))

# The CPU-only benchmarks (benchmarks/cpu/), at settings that finish in minutes; README,
# "Benchmarks", has the full runs and those on the control plane (benchmarks/cluster/).
bench: $(STAMP)
	$(BIN)/python benchmarks/cpu/plan.py --instances 20 --repeat 3
	$(BIN)/python benchmarks/cpu/simulate.py --jobs 1000 --repeat 1
	$(BIN)/python benchmarks/cpu/economics.py --jobs 100
	$(BIN)/python benchmarks/cpu/spot.py --jobs 100
	$(BIN)/python benchmarks/cpu/scaler_minute.py --hours 6

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache
