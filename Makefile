# perfgate: the two commands are `make demo` and `make test`; both install what is missing first.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
# Podman reads this instead of the system's containers.conf; see the file for why it is needed.
export CONTAINERS_CONF := $(CURDIR)/molecule/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_ROLES_PATH := $(CURDIR)/roles
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
export PYTHONDONTWRITEBYTECODE := 1

# command:package pairs that setup installs with apt when the command is missing.
SYSTEM_PACKAGES := podman:podman runc:runc debootstrap:debootstrap ssh:openssh-client \
	haproxy:haproxy prometheus:prometheus wrk:wrk npm:npm pg_ctlcluster:postgresql
# The test host images: their Debian release numbers, and each one's suite.
IMAGES := 12 13
SUITE_12 := bookworm
SUITE_13 := trixie
# Prints a line every 10 s while a long setup step runs, so the terminal is never silent.
HEARTBEAT := $(CURDIR)/playbooks/local/heartbeat.sh
MOLECULE_SCENARIOS := $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))

.PHONY: help setup system-packages venv unleash images test lint unit molecule demo demo-down lock clean

help:
	@echo "make demo   set up what is missing, bring up the local environment and run the pipeline"
	@echo "make test   run every check (ruff, ansible-lint, ansible-test sanity, pytest, molecule); non-zero on failure"
	@echo "make setup  only install what is missing (system packages, .venv, test host images)"
	@echo "make demo-down   remove the local environment"
	@echo "make molecule SCENARIO=harden   run one Molecule scenario"

# After the system packages, the virtualenv, the Unleash tree and the images are independent:
# they are built side by side (each prints its own lines, with a heartbeat).
setup: system-packages
	@$(MAKE) -s -j3 venv unleash images

system-packages:
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "perfgate needs Python 3.11 or newer as python3" >&2; exit 1; }
	@missing=""; for pair in $(SYSTEM_PACKAGES); do \
		command -v "$${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/$${pair%%:*}" ] || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing system packages:$$missing"; \
			DEBIAN_FRONTEND=noninteractive $(HEARTBEAT) "installing system packages" sh -c \
				"apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $$missing >/dev/null"; \
		else \
			echo "missing system packages; as root run: apt-get install -y$$missing" >&2; exit 1; \
		fi; \
	fi

venv: $(VENV)/.installed

# Some machines' pip config lists local wheel folders that do not exist; pip warns once per
# package about each. Those warnings say nothing about perfgate's install, so they are dropped.
PIP_NOISE_FILTER := { grep -v 'is ignored: it is neither a file nor a directory' || true; }

# uv installs the locked set in well under a minute where pip takes several (pip stays the
# fallback, and installs uv itself). Pinned here because it installs everything else.
UV_VERSION := 0.13.9
UV_INSTALL := $(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python

# Reinstalled whenever the lock file or the agent's package metadata changes. Bytecode is
# compiled at install time because the Makefile runs Python with PYTHONDONTWRITEBYTECODE.
$(VENV)/.installed: requirements.lock $(wildcard bench/pyproject.toml)
	@[ -x $(VENV)/bin/python ] || { echo "creating .venv"; python3 -m venv $(VENV); }
	@[ "$$($(VENV)/bin/uv --version 2>/dev/null | cut -d' ' -f2)" = "$(UV_VERSION)" ] || \
		$(VENV)/bin/pip install -q --disable-pip-version-check uv==$(UV_VERSION) 2>&1 | $(PIP_NOISE_FILTER)
	@echo "installing Python dependencies from requirements.lock into .venv"
	@$(HEARTBEAT) "installing Python dependencies into .venv" $(UV_INSTALL) --compile-bytecode -r requirements.lock || { \
		echo "uv could not install requirements.lock; trying pip (slower)"; \
		$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.lock 2>&1 | $(PIP_NOISE_FILTER); }
	@# setuptools warns about every editable install; its output is shown only when it fails.
	@if [ -f bench/pyproject.toml ]; then \
		out=$$($(UV_INSTALL) --no-deps -e bench/ 2>&1) || { echo "$$out" >&2; exit 1; }; \
	fi
	@# ansible.cfg loads mitogen's strategy from .venv/mitogen, whatever Python's version directory is.
	@ln -sfn "$$($(VENV)/bin/python -c 'import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))')" $(VENV)/mitogen
	@touch $@

# The Unleash server (and the Node 20 that runs it) from the committed npm lock file, for the
# flag backend's tests and the local environment. Built here because the hosts cannot reach npm.
UNLEASH := $(CURDIR)/.cache/unleash
unleash: $(UNLEASH)/.installed

$(UNLEASH)/.installed: playbooks/local/unleash/package.json playbooks/local/unleash/package-lock.json playbooks/local/unleash/start.js | system-packages
	@echo "installing the Unleash server from playbooks/local/unleash/package-lock.json into .cache/unleash"
	@mkdir -p $(UNLEASH) && cp playbooks/local/unleash/package.json playbooks/local/unleash/package-lock.json playbooks/local/unleash/start.js $(UNLEASH)/
	@# npm's own output is shown only when it fails.
	@cd $(UNLEASH) && $(HEARTBEAT) "installing the Unleash server" sh -c \
		'out=$$(npm ci --no-audit --no-fund --loglevel=error 2>&1) || { echo "$$out" >&2; exit 1; }'
	@touch $@

images: $(addprefix image-,$(IMAGES))

image-%: system-packages
	@$(HEARTBEAT) "building the Debian $* image" molecule/images/build-image.sh $(SUITE_$*) $*

test: setup
	@tests/run-checks.sh $(MOLECULE_SCENARIOS)

lint: venv
	@ruff check . && ruff format --check . && ansible-lint --profile production

unit: venv
	@pytest tests/unit

molecule: setup
	@molecule test -s $(SCENARIO)

# The local environment runs on the Debian 12 image only; the others are for Molecule.
demo: system-packages
	@$(MAKE) -s -j3 venv unleash image-12
	@$(VENV)/bin/python playbooks/local/demo.py

# Removes the local environment make demo brought up (containers, networks, inventory).
demo-down: venv
	@ansible-playbook playbooks/local/down.yml

lock:
	@rm -rf /tmp/perfgate-lock && python3 -m venv /tmp/perfgate-lock
	@/tmp/perfgate-lock/bin/pip install -q -r requirements.in
	@{ echo "# Generated by 'make lock' from requirements.in with Python 3.11; do not edit by hand."; \
		/tmp/perfgate-lock/bin/pip freeze --exclude-editable | sort -f; } > requirements.lock
	@rm -rf /tmp/perfgate-lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
