package manifests

import "strings"

// label is one key=value of monitoring-labels.
type label struct{ Key, Value string }

// MonitoringLabels are the extra labels on the ServiceMonitor (validated
// key=value pairs), so a Prometheus operator's serviceMonitorSelector (for
// kube-prometheus-stack: release=<its release name>) picks it up.
func (v *view) MonitoringLabels() []label {
	var out []label
	for _, l := range v.C.MonitoringLabels {
		k, val, _ := strings.Cut(l, "=")
		out = append(out, label{Key: k, Value: val})
	}
	return out
}
