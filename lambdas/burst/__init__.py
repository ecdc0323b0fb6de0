"""fpga-burst: burst FPGA workloads from an on-prem Kubernetes cluster into AWS."""
