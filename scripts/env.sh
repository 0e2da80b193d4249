# Sourced by the Makefile's recipes: where bun is, and Reflex's network features off.
case "$(uname -m)" in
  aarch64|arm64) _bun_pkg="@oven/bun-linux-aarch64" ;;
  *) _bun_pkg="@oven/bun-linux-x64" ;;
esac
export REFLEX_BUN_PATH="$PWD/.tools/bun/node_modules/$_bun_pkg/bin/bun"
export REFLEX_TELEMETRY_ENABLED=false
export REFLEX_CHECK_LATEST_VERSION=false
# One worker without Redis: in-memory state (the disk manager costs ~3x CPU per event).
if [ -z "${REFLEX_REDIS_URL:-}" ]; then export REFLEX_STATE_MANAGER_MODE=memory; fi
export PATH="$PWD/.venv/bin:$PATH"
