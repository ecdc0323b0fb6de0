"""The Kubernetes adapter: the only package that imports `kubernetes`.

- client: `from_credentials` / `from_kubeconfig` -> `Kube`; every call has a timeout and
  failures become burst.core.errors types (ClusterUnreachableError for connect errors, timeouts
  and 5xx; KubeThrottledError for 429; KubeForbiddenError, KubeNotFoundError, ...).
- observe: pending FPGA pods, FPGA nodes, pods per node -> burst.core.model.
- nodes, drain: cordon/taint with optimistic concurrency, drain via the Eviction API,
  delete the Node.
- tell: pod Events and the status ConfigMap.
- tokens: kubeadm bootstrap-token Secrets.
- credentials: `burst credentials` (RBAC + TokenRequest).
- adapter: KubeCluster, the burst.ports.cluster ports (ClusterReader, NodeWriter, ...).

The shell: `KubeCluster(client.from_credentials(secrets.read_cluster_credentials(id)), boards)`.
"""
