package installer

import (
	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

// z2mDataClaim is Zigbee2MQTT's data claim, wherever it lives.
const z2mDataClaim = "home-assistant-zigbee2mqtt-data-0"

// StrandedData is a kept claim whose data the new layout no longer mounts:
// the workload would start on a new, empty claim elsewhere.
type StrandedData struct {
	// Component is the workload whose data it is.
	Component string `json:"component"`
	// From is the claim holding the data (namespace/name), To the new,
	// empty one the plan mounts instead.
	From string `json:"from"`
	To   string `json:"to"`
}

// StrandedData lists what an upgrade from an older layout would leave
// behind. Today: an install from before the USB radio moved into its own
// namespace (Zigbee2MQTT's claim in <namespace>, the radio now in
// <namespace>-radio) would start Zigbee2MQTT on an empty claim and lose its
// device database. Its data is moved by a backup of the old layout and a
// restore into the new one (restore writes each volume into the claim the
// restored configuration mounts).
func (p *Plan) StrandedData() []StrandedData {
	return strandedData(&p.Config, p.keptClaims)
}

func strandedData(cfg *config.Config, kept []manifests.Claim) []StrandedData {
	radio := manifests.RadioNamespace(cfg)
	if radio == "" {
		return nil
	}
	var inOld, inNew bool
	for _, c := range kept {
		if c.Name != z2mDataClaim {
			continue
		}
		switch c.Namespace {
		case cfg.Namespace:
			inOld = true
		case radio:
			inNew = true
		}
	}
	if !inOld || inNew {
		return nil
	}
	return []StrandedData{{Component: string(config.Zigbee2MQTT), From: cfg.Namespace + "/" + z2mDataClaim, To: radio + "/" + z2mDataClaim}}
}
