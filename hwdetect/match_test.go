package hwdetect

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

var zigbeeAdapters = []string{"zstack", "ember", "deconz", "zigate", "zboss", "ezsp"}

func TestTableWellFormed(t *testing.T) {
	idRE := regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{4}$`)
	seen := map[string]bool{}
	for _, row := range Table() {
		if seen[row.Name] {
			t.Errorf("%s: listed twice", row.Name)
		}
		seen[row.Name] = true
		for _, id := range row.IDs {
			if !idRE.MatchString(id) {
				t.Errorf("%s: id %q is not vid:pid in lower-case hex", row.Name, id)
			}
		}
		for _, s := range slices.Concat(row.Manufacturer, row.Product, row.ByID, row.NotByID) {
			if s != strings.ToLower(s) {
				t.Errorf("%s: pattern %q must be lower case", row.Name, s)
			}
		}
		switch row.Kind {
		case KindZigbee:
			if !slices.Contains(zigbeeAdapters, row.Adapter) || row.Baudrate == 0 {
				t.Errorf("%s: adapter %q baud %d", row.Name, row.Adapter, row.Baudrate)
			}
		case KindZWave:
			if row.Adapter != "" {
				t.Errorf("%s: a Z-Wave stick has no Zigbee2MQTT adapter", row.Name)
			}
		default:
			t.Errorf("%s: kind %q", row.Name, row.Kind)
		}
		if len(row.IDs) == 0 && len(row.ByID) == 0 && len(row.Product) == 0 {
			t.Errorf("%s: nothing to match on", row.Name)
		}
	}
	// Ids that more than one product carries must be marked shared (the
	// sides of one multi-interface stick are one product).
	count := map[string]int{}
	for _, row := range Table() {
		if row.Interface != "" && row.Interface != "00" {
			continue
		}
		for _, id := range row.IDs {
			count[id]++
		}
	}
	for id, n := range count {
		if _, ok := Shared[id]; n > 1 && !ok {
			t.Errorf("id %s is in %d rows but not in Shared", id, n)
		}
	}
	t.Logf("%d matcher rows", len(Table()))
}

// Every row is reachable: a device with the row's own first id, strings and
// by-id name matches that row, and no other.
func TestEveryRowMatches(t *testing.T) {
	for _, row := range Table() {
		dev := device{vid: "1a86", pid: "55d4"}
		if len(row.IDs) > 0 {
			dev.vid, dev.pid, _ = strings.Cut(row.IDs[0], ":")
		}
		if len(row.Manufacturer) > 0 {
			dev.manufacturer = row.Manufacturer[0]
		}
		if len(row.Product) > 0 {
			dev.product = "x " + row.Product[0] + " x"
		}
		dev.iface = row.Interface
		if len(row.ByID) > 0 {
			dev.names = []string{"usb-" + strings.ReplaceAll(row.ByID[0], "*", "_") + "_1234-if00"}
		}
		v := match(dev)
		if v.row == nil || v.row.Name != row.Name {
			t.Errorf("%s: matched %v (%s)", row.Name, v.row, v.reason)
		}
	}
}

func TestMatchRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		dev  device
		want string // row name, or "" for unknown
		why  string // substring of the reason, for unknown
	}{
		{"shared id alone never decides", device{vid: "10c4", pid: "ea60", manufacturer: "Silicon Labs", product: "CP2102 USB to UART Bridge Controller"},
			"", "shared by many products"},
		{"CH9102 alone is not a ZBDongle-E", device{vid: "1a86", pid: "55d4", product: "USB Single Serial"}, "", "WCH CH9102"},
		{"CH340 alone is not a TubesZB", device{vid: "1a86", pid: "7523", product: "USB2.0-Serial"}, "", "could be TubesZB"},
		{"ZBDongle-P by by-id", device{vid: "10c4", pid: "ea60", manufacturer: "ITead", names: []string{"usb-ITead_Sonoff_Zigbee_3.0_USB_Dongle_Plus_ab-if00-port0"}},
			"Sonoff ZBDongle-P (CC2652P)", ""},
		{"plus_v2 is the ZBDongle-E, not the P", device{vid: "10c4", pid: "ea60", manufacturer: "ITead", names: []string{"usb-ITead_Sonoff_Zigbee_3.0_USB_Dongle_Plus_V2_ab-if00-port0"}},
			"Sonoff ZBDongle-E (EFR32MG21, CP2102)", ""},
		{"ITEAD without a name is ambiguous", device{vid: "10c4", pid: "ea60", manufacturer: "ITEAD"}, "", "equally"},
		{"Sonoff Plus MG24", device{vid: "10c4", pid: "ea60", manufacturer: "SONOFF", names: []string{"usb-SONOFF_SONOFF_Dongle_Plus_MG24_ab-if00-port0"}},
			"Sonoff Dongle Max / Plus MG24 / Lite MG21", ""},
		{"Sonoff PP10", device{vid: "10c4", pid: "ea60", manufacturer: "SONOFF", names: []string{"usb-SONOFF_SONOFF_Dongle_Plus_CC2674P10_ab-if00-port0"}},
			"Sonoff Dongle-PP10 (CC2674P10)", ""},
		{"ZBT-2 and ZWA-2 share ids: the product decides (ZBT-2)", device{vid: "303a", pid: "4001", manufacturer: "Nabu Casa", product: "ZBT-2"},
			"Home Assistant Connect ZBT-2", ""},
		{"ZBT-2 and ZWA-2 share ids: the product decides (ZWA-2)", device{vid: "303a", pid: "4001", manufacturer: "Nabu Casa", product: "ZWA-2"},
			"Nabu Casa ZWA-2", ""},
		{"a bare ESP32-S3 is neither", device{vid: "303a", pid: "4001", manufacturer: "Espressif", product: "USB JTAG/serial debug unit"}, "", "Espressif"},
		{"ZBT-1 under its new name", device{vid: "10c4", pid: "ea60", manufacturer: "Nabu Casa", product: "Home Assistant Connect ZBT-1"},
			"Home Assistant SkyConnect / Connect ZBT-1", ""},
		{"ConBee II on its own id", device{vid: "1cf1", pid: "0030"}, "ConBee II", ""},
		{"own id with contradicting strings", device{vid: "1cf1", pid: "0030", manufacturer: "ACME"}, "", "say otherwise"},
		{"ConBee III by by-id", device{vid: "0403", pid: "6015", names: []string{"usb-dresden_elektronik_ConBee_III_DE03-if00-port0"}}, "ConBee III", ""},
		{"ZZH by manufacturer", device{vid: "0403", pid: "6015", manufacturer: "Electrolama", product: "zzh!"}, "ZZH (Electrolama)", ""},
		{"plain FTDI", device{vid: "0403", pid: "6015", manufacturer: "FTDI", product: "FT231X USB UART"}, "", "FTDI"},
		{"SMLIGHT without a model is ambiguous", device{vid: "10c4", pid: "ea60", manufacturer: "SMLIGHT"}, "", "equally"},
		{"SLZB-06M", device{vid: "10c4", pid: "ea60", manufacturer: "SMLIGHT", product: "SMLIGHT SLZB-06M"}, "SMLIGHT SLZB-06M family (USB mode)", ""},
		{"SLZB-06p7", device{vid: "10c4", pid: "ea60", manufacturer: "SMLIGHT", product: "SLZB-06p7"}, "SMLIGHT SLZB-06p7 / SLZB-06p10 (USB mode)", ""},
		{"Zooz 800 without verified ids", device{vid: "1a86", pid: "55d4", names: []string{"usb-Zooz_800_Z-Wave_Stick_533D004242-if00"}}, "Zooz ZST39 800 LR", ""},
		{"Zooz 700", device{vid: "10c4", pid: "ea60", manufacturer: "Silicon Labs", product: "Zooz ZST10 700 Z-Wave Stick",
			names: []string{"usb-Silicon_Labs_Zooz_ZST10_700_Z-Wave_Stick_0001-if00-port0"}}, "Zooz ZST10-700", ""},
		{"HUSBZB-1 if00", device{vid: "10c4", pid: "8a2a", product: "HubZ Smart Home Controller", iface: "00"}, "Nortek HUSBZB-1 (Z-Wave side)", ""},
		{"HUSBZB-1 if01", device{vid: "10c4", pid: "8a2a", product: "HubZ Smart Home Controller", iface: "01"}, "Nortek HUSBZB-1 (Zigbee side)", ""},
		{"unknown id", device{vid: "dead", pid: "beef"}, "", "no known radio has id dead:beef"},
		{"the udev name matches like a by-id link", device{vid: "10c4", pid: "ea60", manufacturer: "x",
			names: []string{udevName("10c4", "ea60", "TubesZB", "CC2652P2 Coordinator", "", "00")}}, "TubesZB / ZigStar", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := match(tc.dev)
			got := ""
			if v.row != nil {
				got = v.row.Name
			}
			if got != tc.want {
				t.Fatalf("matched %q (%s), want %q", got, v.reason, tc.want)
			}
			if tc.want == "" && !strings.Contains(v.reason, tc.why) {
				t.Errorf("reason %q, want it to contain %q", v.reason, tc.why)
			}
		})
	}
}

func TestUdevName(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{udevName("1a86", "55d4", "ITEAD", "SONOFF Zigbee 3.0 USB Dongle Plus V2", "20231118125346", "00"),
			"usb-ITEAD_SONOFF_Zigbee_3.0_USB_Dongle_Plus_V2_20231118125346-if00"},
		{udevName("0658", "0200", "", "", "", "00"), "usb-0658_0200-if00"},
		{udevName("0451", "bef3", "Texas Instruments", "XDS110 (03.00.00.13) Embed with CMSIS-DAP", "L1100ABC", "03"),
			"usb-Texas_Instruments_XDS110__03.00.00.13__Embed_with_CMSIS-DAP_L1100ABC-if03"},
	} {
		if tc.got != tc.want {
			t.Errorf("udevName = %s, want %s", tc.got, tc.want)
		}
	}
}
