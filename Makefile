# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PORT ?= 3000
ENV := source scripts/env.sh &&
# The address users reach the app at: the only origin forms may come from, and the only Host
# the app answers (besides its loopback aliases). Set PMS_PUBLIC_URL behind a proxy.
export PMS_PUBLIC_URL ?= http://localhost:$(PORT)

.PHONY: run dev test lint bench setup db seed clean-db

setup:
	@scripts/setup.sh

db: setup
	@$(ENV) python -m pms_dashboard.cli db upgrade

seed: db
	@$(ENV) python -m pms_dashboard.cli seed demo

## make run: everything, then the app on http://localhost:$(PORT) (production build, one port).
## The first line it prints states the mode (PMS_ENV, development unless set) and where the
## secrets come from (generated on the first run in .pms/secrets.json, unless given).
run: seed
	@$(ENV) python -m pms_dashboard.cli demo-signins --url http://localhost:$(PORT)
	@$(ENV) reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT)

## make dev: the same with hot reload (frontend :3000, backend :8000)
dev: seed
	@$(ENV) reflex run --env dev

## make test: the same set-up plus a browser, then the whole suite
test:
	@scripts/setup.sh --browser
	@$(ENV) python -m pytest

lint: setup
	@$(ENV) ruff check . && ruff format --check . && mypy

bench: db
	@$(ENV) python -m bench

clean-db:
	@$(ENV) python -c "from pms_dashboard.db import clusters, embedded; [embedded.stop(clusters.embedded_cluster_of(r)) for r in clusters.regions()]" || true
	rm -rf .pms
