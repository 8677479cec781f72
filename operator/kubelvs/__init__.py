"""kube-lvs: declarative Linux Virtual Server (IPVS) load balancers on Kubernetes."""

GROUP = "lvs.kubelvs.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
