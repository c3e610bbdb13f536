package manifests_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

// TestServiceMonitorSelectsOneService: the ServiceMonitor's selector
// matches the home-assistant Service and not the headless one (which has
// the same endpoints: selecting both scrapes every metric twice), and it
// carries the configured labels.
func TestServiceMonitorSelectsOneService(t *testing.T) {
	c := config.Defaults(config.ProfileEdge)
	c.Monitoring = config.MonitoringOn
	c.MonitoringLabels = []string{"release=kube-prometheus-stack", "team=home"}
	require.NoError(t, c.Validate())
	files, err := manifests.Render(&c, testSecrets(), manifests.Options{ServiceMonitorCRD: true})
	require.NoError(t, err)
	var sm struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
		} `json:"spec"`
	}
	var services []*corev1.Service
	for _, f := range files {
		for _, d := range strings.Split(string(f.Content), "\n---\n") {
			switch {
			case strings.Contains(d, "kind: ServiceMonitor"):
				require.NoError(t, yaml.Unmarshal([]byte(d), &sm))
			case strings.Contains(d, "\nkind: Service\n") || strings.HasPrefix(d, "apiVersion: v1\nkind: Service\n"):
				var s corev1.Service
				require.NoError(t, yaml.Unmarshal([]byte(d), &s))
				services = append(services, &s)
			}
		}
	}
	require.NotEmpty(t, sm.Spec.Selector.MatchLabels)
	assert.Equal(t, "kube-prometheus-stack", sm.Metadata.Labels["release"])
	assert.Equal(t, "home", sm.Metadata.Labels["team"])
	var selected []string
	for _, s := range services {
		match := true
		for k, v := range sm.Spec.Selector.MatchLabels {
			if s.Labels[k] != v {
				match = false
			}
		}
		if match {
			selected = append(selected, s.Name)
		}
	}
	assert.Equal(t, []string{"home-assistant"}, selected, "exactly one Service is scraped")
	names := []string{}
	for _, s := range services {
		names = append(names, s.Name)
	}
	assert.Contains(t, names, "home-assistant-headless", "the headless Service exists and is not selected")
}

// TestGrafanaDashboard: the shipped dashboard is valid JSON, every panel
// queries the job the ServiceMonitor produces or Home Assistant's metrics,
// through the datasource variable.
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "grafana", "home-assistant.json"))
	require.NoError(t, err)
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr       string `json:"expr"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(data, &d))
	assert.NotEmpty(t, d.UID)
	require.NotEmpty(t, d.Panels)
	for _, p := range d.Panels {
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			assert.Equal(t, "${datasource}", tg.Datasource.UID, p.Title)
			assert.True(t, strings.Contains(tg.Expr, `job="home-assistant"`) || strings.Contains(tg.Expr, "homeassistant_"), "%s: %s", p.Title, tg.Expr)
		}
	}
}
