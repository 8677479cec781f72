# One image for both processes: `kubelvs operator` (Deployment, non-root) and `kubelvs agent` (DaemonSet,
# root and privileged through the chart's securityContext). Build and push from the repository root:
#   make image push IMAGE=registry.example.com/kubelvs TAG=0.1.0   (docker build -t IMAGE:TAG . && docker push)
# and install the chart with --set image.repository=IMAGE --set image.tag=TAG (the README's quick start).
# The base image is pinned by tag and digest, so a rebuild gets the same bytes. The digest is the one a
# Renovate-maintained public digest list records for this tag. It was not checked against the registry
# here, because this machine has no registry access. Bump both together:
#   docker buildx imagetools inspect python:3.11-slim-bookworm    (the "Digest:" line)
# or override: --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm
ARG PYTHON_IMAGE=python:3.11.10-slim-bookworm@sha256:5148c0e4bbb64271bca1d3322360ebf4bfb7564507ae32dd639322e4952a6b16

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
# Wheels of kube-lvs and every dependency; the final stage installs them without a compiler or network.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
# iproute2: `ip` for looking at VIPs and policy routes; ipvsadm: `ipvsadm -Ln` and `kubelvs status` next
# to the agent; nftables: `nft list table ip kubelvs`. The agent itself programs the kernel via netlink
# (pyroute2), and the kernel loads ip_vs, its schedulers and ipip with the node's own modprobe, so no kmod.
RUN apt-get update \
    && apt-get install -y --no-install-recommends iproute2 ipvsadm nftables \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels \
    && groupadd --system --gid 10001 kubelvs \
    && useradd --system --uid 10001 --gid kubelvs --no-create-home --shell /usr/sbin/nologin kubelvs
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# The operator's user; the chart runs the agent as root (runAsUser: 0) because netlink and /proc/sys need it.
USER 10001:10001
ENTRYPOINT ["kubelvs"]
CMD ["--help"]
