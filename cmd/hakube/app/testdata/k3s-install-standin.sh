#!/bin/sh
# k3s-install-standin.sh: a STAND-IN for k3s's installer (get.k3s.io), for
# tests only. It installs nothing. It prints lines as the real installer
# does, then "starts k3s" by copying the test control plane's kubeconfig
# (K3S_STANDIN_KUBECONFIG) to where k3s writes its own
# (K3S_KUBECONFIG_OUTPUT), so that the API answers through it.
set -eu
echo "[INFO]  k3s installer STAND-IN (tests only): nothing is installed"
echo "[INFO]  Using ${INSTALL_K3S_VERSION:?the version must be pinned} as release"
sleep 1
echo "[INFO]  systemd: Starting k3s"
mkdir -p "$(dirname "$K3S_KUBECONFIG_OUTPUT")"
cp "$K3S_STANDIN_KUBECONFIG" "$K3S_KUBECONFIG_OUTPUT"
