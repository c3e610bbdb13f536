package manifests

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/hakube/hakube/config"
)

// peer is where traffic to a port may come from. The zero value is "any
// pod of the policy's namespace".
type peer struct {
	// Namespace is the peer's namespace; "" the policy's own, "*" any.
	Namespace string
	// App and Component select pods by app.kubernetes.io/name and
	// /component; "" any pod.
	App, Component string
}

// portRule opens one port to peers; with Anywhere, to every source (the
// LAN too, through a NodePort or LoadBalancer).
type portRule struct {
	Port     int
	From     []peer
	Anywhere bool
}

// netPol is one NetworkPolicy: ingress to the pods of app only on ports.
// k3s enforces NetworkPolicies (kube-router's controller); traffic from the
// pod's own node is always let through, which keeps kubelet probes and a
// host-network Home Assistant working.
type netPol struct {
	Name, Namespace, App, Component string
	// All selects every pod of the namespace (a default deny).
	All   bool
	Ports []portRule
}

func (v *view) netPolYAML(p netPol) (string, error) {
	sel := map[string]any{}
	if !p.All {
		sel = map[string]any{"matchLabels": map[string]string{"app.kubernetes.io/name": p.App, "app.kubernetes.io/instance": "hakube"}}
	}
	ingress := []any{}
	for _, r := range p.Ports {
		rule := map[string]any{"ports": []any{map[string]any{"port": r.Port, "protocol": "TCP"}}}
		if !r.Anywhere {
			var from []any
			for _, f := range r.From {
				e := map[string]any{}
				switch f.Namespace {
				case "":
				case "*":
					e["namespaceSelector"] = map[string]any{}
				default:
					e["namespaceSelector"] = map[string]any{"matchLabels": map[string]string{"kubernetes.io/metadata.name": f.Namespace}}
				}
				if f.App != "" {
					m := map[string]string{"app.kubernetes.io/name": f.App}
					if f.Component != "" {
						m["app.kubernetes.io/component"] = f.Component
					}
					e["podSelector"] = map[string]any{"matchLabels": m}
				} else if f.Namespace == "" {
					e["podSelector"] = map[string]any{}
				}
				from = append(from, e)
			}
			rule["from"] = from
		}
		ingress = append(ingress, rule)
	}
	obj := map[string]any{
		"apiVersion": "networking.k8s.io/v1",
		"kind":       "NetworkPolicy",
		"metadata": map[string]any{
			"name":      p.Name,
			"namespace": p.Namespace,
			"labels":    v.labelMap(p.App, p.Component),
		},
		"spec": map[string]any{
			"podSelector": sel,
			"policyTypes": []string{"Ingress"},
			"ingress":     ingress,
		},
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		return "", fmt.Errorf("render network policy %s: %w", p.Name, err)
	}
	return strings.TrimRight(string(b), "\n"), nil
}

// networkPolicies are, by component file, the policies that make each port
// reachable only from where it is used. Every namespace of ours denies all
// ingress by default; each workload then opens its ports to its clients.
func networkPolicies(v *view) (map[string]string, error) {
	c := v.C
	ns := c.Namespace
	haServer := peer{App: "home-assistant", Component: "server"}
	// Dashboards (Node-RED, ESPHome, Zigbee2MQTT) are used from a browser:
	// through kubectl port-forward (never subject to a policy) or an
	// Ingress the user adds (the ingress controller runs in kube-system).
	ingressController := peer{Namespace: "kube-system"}
	var pols = map[string][]netPol{}

	ha := portRule{Port: 8123, Anywhere: true}
	if v.HAServiceType == string(config.ClusterIP) {
		// Nothing outside the cluster reaches a ClusterIP Service: the
		// ingress controller and in-cluster clients (Prometheus) do.
		ha = portRule{Port: 8123, From: []peer{{Namespace: "*"}}}
	}
	pols["home-assistant"] = []netPol{
		{Name: "hakube-default-deny", Namespace: ns, App: "hakube", Component: "server", All: true},
		{Name: "home-assistant", Namespace: ns, App: "home-assistant", Component: "server", Ports: []portRule{ha}},
	}
	if c.Has(config.MQTT) {
		clients := []peer{haServer}
		if c.Has(config.NodeRED) {
			clients = append(clients, peer{App: "node-red"})
		}
		if c.Has(config.Zigbee2MQTT) {
			z := peer{App: "zigbee2mqtt"}
			if v.RadioNS != "" {
				z.Namespace = v.RadioNS
			}
			clients = append(clients, z)
		}
		rules := []portRule{{Port: 1883, From: clients}}
		if c.MQTTExposed() {
			// Open to LAN devices (mqtt-expose): every client logs in, and
			// each device account reaches only its own topics.
			rules = []portRule{{Port: 1883, Anywhere: true}, {Port: 8883, Anywhere: true}}
		}
		if c.MQTTWebsockets {
			// Asked for by the user, for browser or app clients in the cluster.
			rules = append(rules, portRule{Port: 9001, From: []peer{{Namespace: "*"}}})
		}
		pols["mqtt"] = []netPol{{Name: "home-assistant-mqtt", Namespace: ns, App: "mosquitto", Component: "mqtt", Ports: rules}}
	}
	if c.Has(config.NodeRED) {
		// Home Assistant calls Node-RED's HTTP endpoints (webhooks).
		pols["nodered"] = []netPol{{Name: "home-assistant-nodered", Namespace: ns, App: "node-red", Component: "nodered",
			Ports: []portRule{{Port: 1880, From: []peer{haServer, ingressController}}}}}
	}
	if c.Has(config.ESPHome) {
		pols["esphome"] = []netPol{{Name: "home-assistant-esphome", Namespace: ns, App: "esphome", Component: "esphome",
			Ports: []portRule{{Port: 6052, From: []peer{ingressController}}}}}
	}
	if c.Has(config.Zigbee2MQTT) {
		var zp []netPol
		if v.RadioNS != "" {
			zp = append(zp, netPol{Name: "hakube-default-deny", Namespace: v.RadioNS, App: "hakube", Component: "zigbee2mqtt", All: true})
		}
		zp = append(zp, netPol{Name: "home-assistant-zigbee2mqtt", Namespace: v.Z2MNamespace, App: "zigbee2mqtt", Component: "zigbee2mqtt",
			Ports: []portRule{{Port: 8080, From: []peer{ingressController}}}})
		pols["zigbee2mqtt"] = zp
	}
	if c.UsesPostgreSQL() {
		// Home Assistant's recorder and the backup job (both app
		// home-assistant).
		pols["postgresql"] = []netPol{{Name: "home-assistant-postgresql", Namespace: ns, App: "postgresql", Component: "postgresql",
			Ports: []portRule{{Port: 5432, From: []peer{{App: "home-assistant"}}}}}}
	}
	// A dashboard on the LAN (its node port set) is open to every source:
	// its own login guards it.
	for _, d := range Dashboards() {
		if c.DashboardPort(d.Component) == 0 {
			continue
		}
		for i := range pols[string(d.Component)] {
			for j, r := range pols[string(d.Component)][i].Ports {
				if r.Port == d.Port {
					pols[string(d.Component)][i].Ports[j] = portRule{Port: d.Port, Anywhere: true}
				}
			}
		}
	}
	out := map[string]string{}
	for comp, ps := range pols {
		var docs []string
		for _, p := range ps {
			y, err := v.netPolYAML(p)
			if err != nil {
				return nil, err
			}
			docs = append(docs, y)
		}
		out[comp] = strings.Join(docs, "\n---\n")
	}
	return out, nil
}
