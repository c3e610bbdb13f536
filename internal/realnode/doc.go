// Package realnode holds hakube's end-to-end suite on a REAL node: the test
// control plane (internal/testcluster) with Options.RealNode, where the
// kubelet runs the stack's pods in containerd. The tests drive the built
// hakube binary through its command line only (commands, flags, exit codes,
// output), and check what only real containers can show: init containers'
// files and owners on the volumes, probes, the NodePort on 127.0.0.1, the
// real Mosquitto and PostgreSQL with the generated credentials, the backup
// job's archive, data kept or purged on disk, and the kubelet's own reason
// for a pod that cannot start.
//
// Home Assistant, ESPHome and Zigbee2MQTT run as STAND-INS (standin-http
// answering their probes); Mosquitto, PostgreSQL (Debian's 15 under the name
// of the image hakube pins), Node-RED, python3 and sqlite3 are the real
// programs; the deploy controller is the k3s STAND-IN. See
// scripts/testenv/README.md.
package realnode
