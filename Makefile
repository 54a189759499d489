# Local development entry points; the logic lives in scripts/local.sh.
SHELL := /bin/bash
LOCAL := scripts/local.sh

.DEFAULT_GOAL := help
.PHONY: help setup run test lint audit requirements bench stop clean backup restore

help:
	@echo "make setup | run | test [PYTEST_ARGS=...] | lint | audit | requirements | bench | stop | clean | backup | restore [TO=...]"

# Installs packages, venv and services, then migrates and seeds (manage.py setup_local).
setup:
	@$(LOCAL) setup

# `exec` so a SIGTERM that make forwards reaches the script, which stops what it started.
run:
	@exec $(LOCAL) run

test:
	@exec $(LOCAL) test

lint:
	@$(LOCAL) system
	@$(LOCAL) venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	MYMEDIC_ENV=local .venv/bin/mypy apps mymedic

# Known vulnerabilities in every pinned package (needs the PyPI JSON API or OSV; --strict
# fails on a package it could not check, so an unreachable database never passes quietly).
audit:
	@$(LOCAL) venv
	.venv/bin/pip-audit --strict --no-deps --disable-pip -r requirements.txt -r requirements-dev.txt

# Re-pins both requirement files (with hashes) from requirements.in and requirements-dev.in.
requirements:
	@$(LOCAL) venv
	.venv/bin/python -m pip install -q pip-tools
	.venv/bin/pip-compile -q --generate-hashes --strip-extras --no-emit-index-url \
		--no-emit-find-links -o requirements.txt requirements.in
	.venv/bin/pip-compile -q --generate-hashes --strip-extras --no-emit-index-url \
		--no-emit-find-links -o requirements-dev.txt requirements-dev.in

# ARGS go to manage.py bench, e.g. make bench ARGS='--only tenants --tenants 500'.
bench:
	@exec $(LOCAL) bench $(ARGS)

# Point-in-time recovery of the local cluster (started with MYMEDIC_WAL_ARCHIVE=1): a base
# backup, and a restore of the newest one to TO (a time, default latest) on a new port.
# scripts/backup.sh does the work; docs/OPERATIONS.md is the runbook.
backup:
	@$(LOCAL) backup

restore:
	@$(LOCAL) restore

stop:
	@$(LOCAL) services-stop

clean:
	@$(LOCAL) clean
