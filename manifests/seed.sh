#!/bin/sh
# hakube: prepares /config before Home Assistant starts. It owns only
# /config/packages/hakube/ and never rewrites a file the user has.
set -eu
cfg=${HAKUBE_CONFIG_DIR:-/config}
src=${HAKUBE_SEED_DIR:-/hakube}
secrets=${HAKUBE_SEED_SECRETS_DIR:-/hakube-secrets}
pkg="$cfg/packages/hakube"
mkdir -p "$pkg"
# One command per line: set -e does not stop on a failure inside a && list.
cp "$src/hakube.yaml" "$pkg/hakube.yaml.new"
mv -f "$pkg/hakube.yaml.new" "$pkg/hakube.yaml"
if [ -f "$secrets/secrets.yaml" ]; then
  # 0600 whatever the mode of the mounted Secret (0400) or of a leftover file.
  rm -f "$pkg/secrets.yaml.new"
  (umask 077; cp "$secrets/secrets.yaml" "$pkg/secrets.yaml.new")
  chmod 600 "$pkg/secrets.yaml.new"
  mv -f "$pkg/secrets.yaml.new" "$pkg/secrets.yaml"
else
  rm -f "$pkg/secrets.yaml"
fi
if [ ! -e "$cfg/configuration.yaml" ]; then
  echo "hakube: writing a first configuration.yaml"
  cat > "$cfg/configuration.yaml" <<'YAML'
# Loads default set of integrations. Do not remove.
default_config:

# Load frontend themes from the themes folder
frontend:
  themes: !include_dir_merge_named themes

automation: !include automations.yaml
script: !include scripts.yaml
scene: !include scenes.yaml

# hakube keeps its settings (trusted proxies, recorder, metrics) here.
homeassistant:
  packages: !include_dir_named packages
YAML
  [ -e "$cfg/automations.yaml" ] || echo "[]" > "$cfg/automations.yaml"
  [ -e "$cfg/scripts.yaml" ] || : > "$cfg/scripts.yaml"
  [ -e "$cfg/scenes.yaml" ] || : > "$cfg/scenes.yaml"
  [ -e "$cfg/secrets.yaml" ] || echo "# Use this file to store secrets like usernames and passwords." > "$cfg/secrets.yaml"
elif grep -q 'packages: *!include_dir_named packages' "$cfg/configuration.yaml"; then
  : # already includes our package
elif grep -q '^homeassistant:' "$cfg/configuration.yaml"; then
  echo "hakube: WARNING: configuration.yaml has its own 'homeassistant:' block without our packages."
  echo "hakube: add '  packages: !include_dir_named packages' under 'homeassistant:' to load /config/packages/hakube/hakube.yaml"
else
  echo "hakube: adding the packages include to configuration.yaml"
  printf '\n# hakube keeps its settings (trusted proxies, recorder, metrics) here.\nhomeassistant:\n  packages: !include_dir_named packages\n' >> "$cfg/configuration.yaml"
fi
