#!/usr/bin/env bash
# Refreshes the portal's vendored uPlot (charts) from npm. The files are committed under
# crates/hub/web/vendor/uplot/ and embedded in the binary, so building and testing Joule
# needs neither node nor the network; only this script does (npm, to fetch the package).
# Usage: bash scripts/update-web-vendor.sh [VERSION]   (default: the newest 1.x)
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-1}"
target=crates/hub/web/vendor/uplot
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "uplot@$version" >/dev/null && tar xzf uplot-*.tgz)
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" \
  "$work/package/LICENSE" "$target/"
sed -n 's/.*"version": "\(.*\)".*/\1/p' "$work/package/package.json" >"$target/VERSION"
echo "uPlot $(cat "$target/VERSION") in $target"
