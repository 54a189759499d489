# Local development entry points; the logic lives in scripts/local.sh.
SHELL := /bin/bash
LOCAL := scripts/local.sh

.DEFAULT_GOAL := help
.PHONY: help setup run test lint bench stop clean

help:
	@echo "make setup | run | test [PYTEST_ARGS=...] | lint | bench | stop | clean"

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

bench:
	@exec $(LOCAL) bench

stop:
	@$(LOCAL) services-stop

clean:
	@$(LOCAL) clean
