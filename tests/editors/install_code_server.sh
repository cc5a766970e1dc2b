#!/bin/sh
# Install code-server (a real VS Code build) and playwright-core from the lockfile,
# offline but for the npm registry. Run by `make editors`; takes about 1.5 minutes once.
#
# code-server's postinstall builds VS Code's native modules (Debian's libkrb5-dev,
# libx11-dev, libxkbfile-dev, libsecret-1-dev) and runs @vscode/ripgrep's
# postinstall, which downloads rg from a host this machine cannot reach: its
# download cache is seeded with Debian's rg first. The scripts therefore run in
# a second step, once the package tree (and so ripgrep's version) is known.
set -eu
cd "$(dirname "$0")"

case "$(node --version)" in
v20.*) ;;
*)
	echo "install_code_server.sh: code-server 4.100 needs node 20, found $(node --version)" >&2
	exit 1
	;;
esac
rg=$(command -v rg) || {
	echo "install_code_server.sh: rg (Debian's ripgrep) is missing" >&2
	exit 1
}

# node-gyp builds against the installed node's headers instead of downloading them.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
	npm_config_nodedir=/usr
	export npm_config_nodedir
fi

# A private TMPDIR: ripgrep's postinstall looks for its cache there.
TMPDIR=$(cd ../.. && pwd)/.cache/editors/tmp
export TMPDIR
mkdir -p "$TMPDIR"

npm ci --ignore-scripts --no-audit --no-fund

version=$(node -p 'require("./node_modules/code-server/lib/vscode/npm-shrinkwrap.json").packages["node_modules/@vscode/ripgrep"].version')
cache="$TMPDIR/vscode-ripgrep-cache-$version"
mkdir -p "$cache"
tar -czf "$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$(dirname "$rg")" rg

# As root code-server's postinstall insists on unsafe-perm; node-pty's runs npx.
npm_config_unsafe_perm=true npm_config_yes=true \
	npm rebuild --foreground-scripts >"$TMPDIR/code-server-install.log" 2>&1 || {
	tail -n 60 "$TMPDIR/code-server-install.log" >&2
	exit 1
}
node_modules/.bin/code-server --version
