#!/usr/bin/env bash
# Fetch the web console's front-end libraries from the npm registry at pinned versions, check each tarball
# against its pinned integrity (sha512, as npm records it), and copy the one file we serve plus its licence into
# sinks/console/static/vendor/. The results are committed: nothing is fetched or built on a user's machine.
# Run it again only to change a version (then update the pins below and commit the new files).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=sinks/console/static/vendor
# name@version  integrity  file-in-package  served-as
PINS=(
  "htmx.org@2.0.11 sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA== dist/htmx.min.js htmx.min.js"
  "@picocss/pico@2.1.1 sha512-kIDugA7Ps4U+2BHxiNHmvgPIQDWPDU4IeU6TNRdvXQM1uZX+FibqDQT2xUOnnO2yq/LUHcwnGlu1hvf4KfXnMg== css/pico.min.css pico.min.css"
)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$OUT"
for pin in "${PINS[@]}"; do
  read -r spec integrity file served <<<"$pin"
  tarball=$(cd "$work" && npm pack --silent "$spec")
  got="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
  if [ "$got" != "$integrity" ]; then
    echo "integrity mismatch for $spec: got $got, pinned $integrity" >&2
    exit 1
  fi
  mkdir -p "$work/${served}.d"
  tar -xzf "$work/$tarball" -C "$work/${served}.d"
  cp "$work/${served}.d/package/$file" "$OUT/$served"
  licence=$(ls "$work/${served}.d/package/" | grep -i -m1 '^licen[cs]e')
  cp "$work/${served}.d/package/$licence" "$OUT/$served.LICENSE"
  echo "$spec -> $OUT/$served ($integrity)"
done
