"""The Kubernetes variant: the agent on a cluster behind ingress-nginx, watched by kube-prometheus-stack."""
