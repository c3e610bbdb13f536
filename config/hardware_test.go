package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
)

const hwGiB = int64(1) << 30

func hwBool(b bool) *bool { return &b }

var (
	hwZBDongleE = hwdetect.Radio{Device: "/dev/ttyACM0", Kind: hwdetect.KindZigbee, Name: "Sonoff ZBDongle-E (EFR32MG21, CH9102)",
		Path:    "/dev/serial/by-id/usb-ITEAD_SONOFF_Zigbee_3.0_USB_Dongle_Plus_V2_20231118125346-if00",
		Adapter: "ember", Baudrate: 115200, RTSCTS: hwBool(false)}
	hwSkyConnect = hwdetect.Radio{Device: "/dev/ttyUSB0", Kind: hwdetect.KindZigbee, Name: "Home Assistant SkyConnect / Connect ZBT-1",
		Path:    "/dev/serial/by-id/usb-Nabu_Casa_SkyConnect_v1.0_9e2a-if00-port0",
		Adapter: "ember", Baudrate: 115200, RTSCTS: hwBool(true)}
	hwConBee = hwdetect.Radio{Device: "/dev/ttyACM1", Kind: hwdetect.KindZigbee, Name: "ConBee II",
		Path:    "/dev/serial/by-id/usb-dresden_elektronik_ingenieurtechnik_GmbH_ConBee_II_DE2197685-if00",
		Adapter: "deconz", Baudrate: 38400, RTSCTS: hwBool(false)}
	hwZStick = hwdetect.Radio{Device: "/dev/ttyACM2", Kind: hwdetect.KindZWave, Name: "Aeotec Z-Stick Gen5 / 7, UZB",
		Path: "/dev/serial/by-id/usb-0658_0200-if00"}
	hwUnknown = hwdetect.Radio{Device: "/dev/ttyUSB3", Kind: hwdetect.KindUnknown, Path: "/dev/ttyUSB3", Reason: "shared id"}
)

func hwReport(arch string, board int64, radios ...hwdetect.Radio) *hwdetect.Report {
	return &hwdetect.Report{Arch: arch, Memory: hwdetect.Memory{TotalBytes: board - board/16, BoardBytes: board}, Radios: radios}
}

func hwLoad(t *testing.T, r *hwdetect.Report, unattended bool, file string) (config.Result, error) {
	t.Helper()
	src := config.Sources{Adjust: config.FromHardware(r, unattended)}
	if file != "" {
		src.File, src.FileData = "site.yaml", []byte(file)
	}
	return config.Load(src)
}

func TestFromHardwareOneCoordinator(t *testing.T) {
	res, err := hwLoad(t, hwReport("arm64", 2*hwGiB, hwZBDongleE, hwUnknown), true, "")
	require.NoError(t, err)
	c := res.Config
	assert.Equal(t, hwZBDongleE.Path, c.ZigbeeDevice)
	assert.Equal(t, "ember", c.ZigbeeAdapter)
	assert.Equal(t, 115200, c.ZigbeeBaudrate)
	assert.False(t, c.ZigbeeRTSCTS)
	assert.Equal(t, []config.Component{config.MQTT, config.NodeRED, config.ESPHome, config.Zigbee2MQTT}, c.Components)
	assert.Equal(t, config.SizeMedium, c.ResourceSize, "2 GiB is medium")
	assert.Equal(t, config.ArchARM64, c.Arch)
	assert.Contains(t, strings.Join(res.Notes, "\n"), "Zigbee2MQTT will use it (adapter ember)")
	assert.Contains(t, strings.Join(res.Notes, "\n"), "linux/arm64")

	res, err = hwLoad(t, hwReport("arm64", 8*hwGiB, hwSkyConnect), true, "")
	require.NoError(t, err)
	assert.True(t, res.Config.ZigbeeRTSCTS, "SkyConnect needs rtscts")
	assert.Equal(t, config.SizeLarge, res.Config.ResourceSize)
}

func TestFromHardwareRespectsUserChoices(t *testing.T) {
	res, err := hwLoad(t, hwReport("arm64", 2*hwGiB, hwZBDongleE), true,
		"zigbee-adapter: ezsp\nzigbee-baudrate: 230400\nzigbee-rtscts: true\narch: arm64\n")
	require.NoError(t, err)
	c := res.Config
	assert.Equal(t, hwZBDongleE.Path, c.ZigbeeDevice, "the device is still the detected one")
	assert.Equal(t, "ezsp", c.ZigbeeAdapter)
	assert.Equal(t, 230400, c.ZigbeeBaudrate)
	assert.True(t, c.ZigbeeRTSCTS)

	res, err = hwLoad(t, hwReport("arm64", 2*hwGiB, hwZBDongleE), true, "zigbee-device: tcp://192.168.1.40:6638\nzigbee-adapter: zstack\n")
	require.NoError(t, err)
	assert.Equal(t, "tcp://192.168.1.40:6638", res.Config.ZigbeeDevice)
	assert.Equal(t, "zstack", res.Config.ZigbeeAdapter)
	assert.Equal(t, 0, res.Config.ZigbeeBaudrate, "nothing from the USB stick leaks into a network coordinator")

	// Components chosen explicitly: the coordinator is reported, not configured.
	res, err = hwLoad(t, hwReport("amd64", 4*hwGiB, hwZBDongleE), true, "components: [mqtt, nodered]\n")
	require.NoError(t, err)
	assert.Empty(t, res.Config.ZigbeeDevice)
	assert.Equal(t, []config.Component{config.MQTT, config.NodeRED}, res.Config.Components)
	assert.Contains(t, strings.Join(res.Notes, "\n"), "not configured, as components were chosen explicitly")

	res, err = hwLoad(t, hwReport("arm64", 1*hwGiB), true, "resource-size: large\ncomponents: [mqtt, esphome]\n")
	require.NoError(t, err)
	assert.Equal(t, config.SizeLarge, res.Config.ResourceSize)
	assert.True(t, res.Config.Has(config.ESPHome))

	res, err = hwLoad(t, hwReport("arm64", 4*hwGiB), true, "arch: amd64\n")
	require.NoError(t, err)
	assert.Equal(t, config.ArchAMD64, res.Config.Arch)
}

func TestFromHardwareSeveralCoordinators(t *testing.T) {
	r := hwReport("amd64", 16*hwGiB, hwConBee, hwZBDongleE, hwZStick)
	_, err := hwLoad(t, r, true, "")
	require.Error(t, err)
	var cerr *config.Error
	require.True(t, errors.As(err, &cerr), "a configuration error, got %T", err)
	require.Len(t, cerr.Problems, 1)
	assert.Equal(t, "zigbee-device", cerr.Problems[0].Key)
	for _, want := range []string{"2 Zigbee coordinators", "ConBee II at " + hwConBee.Path, hwZBDongleE.Name + " at " + hwZBDongleE.Path, "set zigbee-device"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), hwZStick.Path, "the Z-Wave stick is no choice for Zigbee")

	res, err := hwLoad(t, r, true, "zigbee-device: "+hwConBee.Path+"\nzigbee-adapter: deconz\n")
	require.NoError(t, err, "an explicit choice settles it")
	assert.Equal(t, hwConBee.Path, res.Config.ZigbeeDevice)

	res, err = hwLoad(t, r, false, "")
	require.NoError(t, err, "interactively the wizard asks instead")
	assert.Empty(t, res.Config.ZigbeeDevice)
	assert.Contains(t, strings.Join(res.Notes, "\n"), "2 Zigbee coordinators found")
	assert.Contains(t, strings.Join(res.Notes, "\n"), "Z-Wave stick Aeotec Z-Stick Gen5 / 7, UZB at /dev/serial/by-id/usb-0658_0200-if00")
}

func TestFromHardwareMemory(t *testing.T) {
	for _, tc := range []struct {
		board   int64
		size    config.ResourceSize
		esphome bool
		warn    bool
	}{
		{hwGiB / 2, config.SizeSmall, false, true},
		{1 * hwGiB, config.SizeSmall, false, false},
		{hwGiB + hwGiB/2, config.SizeSmall, false, false},
		{2 * hwGiB, config.SizeMedium, true, false},
		{4 * hwGiB, config.SizeMedium, true, false},
		{8 * hwGiB, config.SizeLarge, true, false},
		{32 * hwGiB, config.SizeLarge, true, false},
	} {
		res, err := hwLoad(t, hwReport("amd64", tc.board), true, "")
		require.NoError(t, err)
		name := hwdetect.HumanBytes(tc.board)
		assert.Equal(t, tc.size, res.Config.ResourceSize, name)
		assert.Equal(t, tc.esphome, res.Config.Has(config.ESPHome), name)
		notes := strings.Join(res.Notes, "\n")
		assert.Equal(t, tc.warn, strings.Contains(notes, "needs about 1 GiB"), "%s: notes %q", name, notes)
	}
}

func TestFromHardwareArch(t *testing.T) {
	res, err := hwLoad(t, hwReport("arm", 4*hwGiB), true, "")
	require.NoError(t, err)
	assert.Equal(t, config.ArchARM, res.Config.Arch)
	assert.False(t, res.Config.Has(config.ESPHome), "no ESPHome image for 32-bit ARM")

	res, err = hwLoad(t, hwReport("riscv64", 4*hwGiB), true, "")
	require.NoError(t, err)
	assert.Equal(t, config.ArchAMD64, res.Config.Arch, "an unsupported arch changes nothing")
	assert.Contains(t, strings.Join(res.Notes, "\n"), "riscv64")

	res, err = hwLoad(t, nil, true, "")
	require.NoError(t, err)
	assert.Equal(t, config.Defaults(config.ProfileEdge).Components, res.Config.Components)
	assert.Empty(t, res.Notes)
}
