package hwdetect

import "slices"

// Matcher is one row of the radio table: a product and how to recognise it.
//
// A device is matched on its USB ids first (they narrow the rows down), then
// on its manufacturer and product strings, then on its /dev/serial/by-id
// name. An id listed in Shared never decides alone: only a string or a
// by-id name can. A manufacturer or product string that the device has and
// that contradicts the row rules the row out.
type Matcher struct {
	Name string
	Kind Kind
	// IDs are "vid:pid" in lower-case hex. Empty: the ids are not known, so
	// only the by-id name (or product string) can match.
	IDs []string
	// Manufacturer and Product are case-insensitive substrings; any one
	// matches.
	Manufacturer []string
	Product      []string
	// ByID are case-insensitive patterns for the by-id name; '*' matches
	// any run of characters. NotByID rule a row out.
	ByID    []string
	NotByID []string
	// Interface restricts the row to one USB interface ("00", "01") of a
	// device with several ports.
	Interface string
	// LowestPort marks devices with several ports where the radio is the
	// one on the lowest interface number.
	LowestPort bool
	// Zigbee2MQTT serial settings; Baudrate 0 means the adapter's default.
	Adapter  string
	Baudrate int
	RTSCTS   bool
	// Note is a caveat shown with every match.
	Note string
}

// Shared are USB ids that many products carry: generic USB-serial bridges
// and default ids of USB stacks. Their names explain an unknown device.
var Shared = map[string]string{
	"10c4:ea60": "Silicon Labs CP210x USB-serial bridge",
	"1a86:55d4": "WCH CH9102 USB-serial bridge",
	"1a86:7523": "WCH CH340 USB-serial bridge",
	"0403:6015": "FTDI FT231X USB-serial bridge",
	"067b:2303": "Prolific PL2303 USB-serial bridge",
	"303a:4001": "Espressif ESP32-S3 default USB id",
	"2fe3:0100": "Zephyr default USB id",
}

// table is every known radio, one row per product line of the project's
// radios reference (the HUSBZB-1 has one row per side). Data, not code:
// add a product by adding a row.
var table = []Matcher{
	// Zigbee coordinators.
	{Name: "Sonoff ZBDongle-P (CC2652P)", Kind: KindZigbee, IDs: []string{"10c4:ea60"},
		Manufacturer: []string{"itead"}, ByID: []string{"sonoff*plus"}, NotByID: []string{"plus_v2", "mg24", "mg21", "cc2674p10"},
		Adapter: "zstack", Baudrate: 115200},
	{Name: "Sonoff ZBDongle-E (EFR32MG21, CH9102)", Kind: KindZigbee, IDs: []string{"1a86:55d4"},
		Manufacturer: []string{"itead"}, ByID: []string{"dongle_plus_v2"},
		Adapter: "ember", Baudrate: 115200, RTSCTS: false},
	{Name: "Sonoff ZBDongle-E (EFR32MG21, CP2102)", Kind: KindZigbee, IDs: []string{"10c4:ea60"},
		Manufacturer: []string{"itead"}, ByID: []string{"plus_v2"},
		Adapter: "ember", Baudrate: 115200, RTSCTS: false},
	{Name: "Sonoff Dongle Max / Plus MG24 / Lite MG21", Kind: KindZigbee, IDs: []string{"10c4:ea60"},
		Manufacturer: []string{"sonoff"}, ByID: []string{"max", "plus*mg24", "lite*mg21"},
		Adapter: "ember", Baudrate: 115200, RTSCTS: false},
	{Name: "Sonoff Dongle-PP10 (CC2674P10)", Kind: KindZigbee, IDs: []string{"10c4:ea60"},
		Manufacturer: []string{"sonoff"}, ByID: []string{"plus*cc2674p10"},
		Adapter: "zstack", Baudrate: 115200},
	{Name: "Home Assistant SkyConnect / Connect ZBT-1", Kind: KindZigbee, IDs: []string{"10c4:ea60"},
		Manufacturer: []string{"nabu casa"}, Product: []string{"skyconnect", "connect zbt-1"},
		Adapter: "ember", Baudrate: 115200, RTSCTS: true},
	{Name: "Home Assistant Connect ZBT-2", Kind: KindZigbee, IDs: []string{"303a:4001", "303a:831a"},
		Manufacturer: []string{"nabu casa"}, Product: []string{"zbt-2"},
		Adapter: "ember", Baudrate: 460800, RTSCTS: true},
	{Name: "ConBee II", Kind: KindZigbee, IDs: []string{"1cf1:0030"},
		Manufacturer: []string{"dresden elektronik"},
		Adapter:      "deconz", Baudrate: 38400},
	{Name: "ConBee III", Kind: KindZigbee, IDs: []string{"0403:6015"},
		ByID:    []string{"conbee", "dresden_elektronik"},
		Adapter: "deconz", Baudrate: 115200, Note: "ConBee III needs baudrate 115200"},
	{Name: "ZZH (Electrolama)", Kind: KindZigbee, IDs: []string{"0403:6015"},
		Manufacturer: []string{"electrolama"},
		Adapter:      "zstack", Baudrate: 115200},
	{Name: "SMLIGHT SLZB-07 / SLZB-07mg24 (USB)", Kind: KindZigbee, IDs: []string{"10c4:ea60"},
		Manufacturer: []string{"smlight"}, Product: []string{"slzb-07"}, ByID: []string{"slzb-07"},
		Adapter: "ember", Baudrate: 115200, RTSCTS: true},
	{Name: "SMLIGHT SLZB-06M family (USB mode)", Kind: KindZigbee, IDs: []string{"10c4:ea60"},
		Manufacturer: []string{"smlight"}, Product: []string{"slzb-06m"}, ByID: []string{"slzb-06m"},
		Adapter: "ember", Baudrate: 115200, RTSCTS: false},
	{Name: "SMLIGHT SLZB-06p7 / SLZB-06p10 (USB mode)", Kind: KindZigbee, IDs: []string{"10c4:ea60"},
		Manufacturer: []string{"smlight"}, Product: []string{"slzb-06p"}, ByID: []string{"slzb-06p"},
		Adapter: "zstack", Baudrate: 115200},
	{Name: "TI LaunchPad CC1352P-2 / CC26X2R1", Kind: KindZigbee, IDs: []string{"0451:bef3"},
		Manufacturer: []string{"texas instruments"}, LowestPort: true,
		Adapter: "zstack", Baudrate: 115200},
	{Name: "TI CC2531 / CC2538", Kind: KindZigbee, IDs: []string{"0451:16a8", "0451:16c8"},
		Manufacturer: []string{"texas instruments"},
		Adapter:      "zstack", Baudrate: 115200},
	{Name: "TubesZB / ZigStar", Kind: KindZigbee, IDs: []string{"10c4:ea60", "1a86:7523"},
		ByID:    []string{"tubeszb", "zigstar"},
		Adapter: "zstack", Baudrate: 115200},
	{Name: "ZiGate", Kind: KindZigbee, IDs: []string{"067b:2303", "10c4:ea60", "0403:6015"},
		ByID:    []string{"zigate"},
		Adapter: "zigate", Baudrate: 115200},
	{Name: "Nordic nRF NCP", Kind: KindZigbee, IDs: []string{"2fe3:0100"},
		Manufacturer: []string{"zephyr"},
		Adapter:      "zboss", Baudrate: 115200},
	// The Zigbee side of the HUSBZB-1. Adapter and speed are not in the
	// radios reference: EmberZNet at 57600 is what the stick ships with.
	{Name: "Nortek HUSBZB-1 (Zigbee side)", Kind: KindZigbee, IDs: []string{"10c4:8a2a"},
		Product: []string{"hubz"}, Interface: "01",
		Adapter: "ember", Baudrate: 57600,
		Note: "its stock EmberZNet firmware is older than the EZSP v13 Zigbee2MQTT's ember driver needs: update it first"},

	// Z-Wave sticks (for a Z-Wave JS component).
	{Name: "Aeotec Z-Stick Gen5 / 7, UZB", Kind: KindZWave, IDs: []string{"0658:0200"}},
	{Name: "Zooz ZST10-700", Kind: KindZWave, IDs: []string{"10c4:ea60"},
		ByID: []string{"zooz*zst10*700"}},
	{Name: "Zooz ZST39 800 LR", Kind: KindZWave,
		ByID: []string{"zooz_800_z-wave_stick"}},
	{Name: "Nortek HUSBZB-1 (Z-Wave side)", Kind: KindZWave, IDs: []string{"10c4:8a2a"},
		Product: []string{"hubz"}, Interface: "00"},
	{Name: "Nabu Casa ZWA-2", Kind: KindZWave, IDs: []string{"303a:4001"},
		Product: []string{"zwa-2"}},
}

// Table returns a copy of the matcher table: every known radio.
func Table() []Matcher { return slices.Clone(table) }
