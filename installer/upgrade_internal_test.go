package installer

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

// TestStrandedData: only a USB radio whose data claim is kept in the main
// namespace, with none yet in the radio's, is data an upgrade would strand.
func TestStrandedData(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	cfg.Components = append(cfg.Components, config.Zigbee2MQTT)
	cfg.ZigbeeDevice, cfg.ZigbeeAdapter = "/dev/serial/by-id/usb-x-if00", "zstack"
	old := manifests.Claim{Namespace: cfg.Namespace, Name: z2mDataClaim, StorageClass: "local-path", Size: "1Gi"}
	moved := old
	moved.Namespace = cfg.Namespace + "-radio"
	other := manifests.Claim{Namespace: cfg.Namespace, Name: "home-assistant-config-0", StorageClass: "local-path", Size: "1Gi"}

	assert.Equal(t, []StrandedData{{Component: "zigbee2mqtt", From: "home-assistant/" + z2mDataClaim, To: "home-assistant-radio/" + z2mDataClaim}},
		strandedData(&cfg, []manifests.Claim{other, old}), "the older layout")
	assert.Empty(t, strandedData(&cfg, []manifests.Claim{other, old, moved}), "already moved: the radio's claim exists")
	assert.Empty(t, strandedData(&cfg, []manifests.Claim{other}), "a fresh install")
	net := cfg
	net.ZigbeeDevice = "tcp://192.168.1.20:6638"
	assert.Empty(t, strandedData(&net, []manifests.Claim{other, old}), "a networked coordinator stays in the main namespace")
}
