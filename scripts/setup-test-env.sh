#!/usr/bin/env bash
# Installs what the integration and browser tests need, offline except for the npm registry and
# Debian's packages:
#   - Debian's chromium (the browser that drives VS Code's workbench and renders the webview),
#   - a real VS Code: the VS Code server + web workbench inside the code-server npm package,
#     installed into .vscode-test/ (git-ignored). @vscode/test-electron would download VS Code
#     from the internet, which these machines cannot reach.
# Idempotent: a second run with everything in place does nothing.
set -euo pipefail
CS_VERSION="${CS_VERSION:-4.100.3}"   # the last code-server whose engines allow node 20 (VS Code 1.100.3)
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${VSCODE_TEST_DIR:-$ROOT/.vscode-test}/code-server-$CS_VERSION"

need=()
for p in chromium ripgrep build-essential python3 pkg-config libkrb5-dev; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${need[@]}"
fi

if [ -f "$DEST/node_modules/code-server/lib/vscode/out/server-main.js" ]; then
  echo "VS Code server (code-server $CS_VERSION) already installed in $DEST"; exit 0
fi
# @vscode/ripgrep's postinstall downloads rg from GitHub; it looks in $TMPDIR/vscode-ripgrep-cache-<version>/ first.
# Seed that cache with Debian's rg (code-server 4.100.3 -> @vscode/ripgrep 1.15.11 -> asset v13.0.0-10).
SEED="$(mktemp -d)"; trap 'rm -rf "$SEED"' EXIT
mkdir -p "$SEED/bin" "$SEED/vscode-ripgrep-cache-1.15.11"
cp /usr/bin/rg "$SEED/bin/rg"
tar czf "$SEED/vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$SEED/bin" rg
mkdir -p "$DEST"; cd "$DEST"
[ -f package.json ] || echo '{"name":"vscode-test-host","private":true}' > package.json
# npm_config_yes: node-pty's postinstall runs `npx node-gyp`; --unsafe-perm: code-server's postinstall refuses root without it.
echo "installing a real VS Code (code-server $CS_VERSION) into $DEST ..."
TMPDIR="$SEED" npm_config_yes=true npm install --no-package-lock --no-save --unsafe-perm --foreground-scripts "code-server@$CS_VERSION" > install.log 2>&1 \
  || { tail -50 install.log; exit 1; }
echo "installed ($(du -sh node_modules | cut -f1))"
