# Developer entry points. The image targets need a container engine (DOCKER=podman works too); the development
# machines of this project have none running, so `make image` / `make push` are written here but run elsewhere.
#   make image push IMAGE=registry.example.com/kubelvs TAG=0.1.0
# then install with --set image.repository=$(IMAGE) --set image.tag=$(TAG) (the README's quick start).

IMAGE ?= kubelvs/kubelvs
# The chart's appVersion: the tag the chart pulls when image.tag is empty.
TAG ?= $(shell sed -n 's/^appVersion: "\(.*\)"/\1/p' charts/kubelvs/Chart.yaml)
DOCKER ?= docker
PYTHON ?= .venv/bin/python

.PHONY: image push chart-readme crds

image:
	$(DOCKER) build -t $(IMAGE):$(TAG) .
	@echo "built $(IMAGE):$(TAG); helm: --set image.repository=$(IMAGE) --set image.tag=$(TAG)"

push:
	$(DOCKER) push $(IMAGE):$(TAG)

# The values table of charts/kubelvs/README.md, from values.yaml's `# --` comments (tests/chart checks it is fresh).
chart-readme:
	$(PYTHON) tests/chart/values_table.py --write

# The CRDs from the models, into the repository's crds/ and the chart's copy (tests compare all three).
crds:
	.venv/bin/kubelvs crds --write crds
	cp crds/*.yaml charts/kubelvs/files/crds/
