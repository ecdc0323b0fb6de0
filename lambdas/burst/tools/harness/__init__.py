"""What tests, benchmarks and `burst demo` stand the controller on, in one place.

- controlplane: a real etcd + kube-apiserver (+ kube-scheduler) on loopback, from the
  binaries in $FPGA_BURST_CONTROLPLANE_BIN (tools/controlplane/build.sh; make sets it);
  pki: its certificates and kubeconfigs; objects: nodes and pods made as an admin or a
  kubelet would.
- moto: a moto_server, the caller's view of it, a function's environment pointed at it,
  and what moto lacks.
- clock: a fake clock that moves only when told; context: Lambda's context object.
- events: the EventBridge events that invoke the handlers.

Not in the functions' code asset (burst/tools is excluded, stacks/controller/construct.py).
"""
