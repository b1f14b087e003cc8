# Loa: two commands do all set-up on a fresh machine.
#   make run   -> install and run the gateway on its embedded defaults
#   make test  -> install everything (pip + Debian packages) and run the test suite
#   make bench -> benchmarks that print ratios against named anchors
#   make fuzz  -> every parser fuzzed for LOA_FUZZ_SECONDS (default 600) each; cases tried per parser

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
DEBIAN_PACKAGES = ffmpeg postgresql chromium kannel kannel-extras icecast2 espeak-ng

.PHONY: run test bench fuzz lint venv deps-system deps-node clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# Debian packages the integration tests need; installed only when root and missing.
deps-system:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: missing Debian packages:$$missing (run as root to install)"; fi; \
	fi

# axe-core for the console's accessibility checks (tests/e2e), in a local node_modules.
# axe-core for the console's accessibility checks; npm comes with Node.js where it is installed
# (NodeSource's nodejs conflicts with Debian's npm package), else from Debian.
deps-node: deps-system
	@command -v npm >/dev/null || { [ "$$(id -u)" = "0" ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
	@test -f node_modules/axe-core/axe.min.js || npm install --no-save --no-audit --no-fund axe-core@4 >/dev/null

run: venv
	$(VENV)/bin/loa serve

test: venv deps-system deps-node
	$(PY) -m ruff check tts gateway tests bench
	$(PY) -m mypy tts gateway
	$(PY) -m pytest -q

bench: venv deps-system
	$(PY) -m bench

LOA_FUZZ_SECONDS ?= 600
fuzz: venv
	LOA_FUZZ_SECONDS=$(LOA_FUZZ_SECONDS) $(PY) -m tests.fuzz.run

lint: venv
	$(PY) -m ruff check tts gateway tests bench
	$(PY) -m mypy tts gateway

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
