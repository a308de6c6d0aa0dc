"""The Kubernetes variant: the agent on a cluster behind a Gateway API HTTPRoute (or ingress-nginx),
watched by kube-prometheus-stack."""
