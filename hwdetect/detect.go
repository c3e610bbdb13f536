// Package hwdetect finds what hakube needs to know about a machine: the
// board, CPU architecture and count, memory, the serial radios plugged in
// (Zigbee coordinators and Z-Wave sticks, matched against a table of known
// products), and whether the host is ready for k3s and Home Assistant.
//
// Everything is read under a root directory passed in ("/" for this
// machine): a mounted SD card image or a fake tree in tests works the same
// way. Symlinks are followed inside the root, never out of it. Probes that
// only make sense on a running machine (the k3s API, the user id, free disk
// space) are injectable and are reported as not checked for any other root.
package hwdetect

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
)

// Schema names the version of the JSON document; it changes only when a
// field is removed or changes meaning.
const Schema = "hakube.detect/v1"

// DefaultNodePort is the NodePort Home Assistant is served on by default.
const DefaultNodePort = 30123

// Kind is what a serial radio is.
type Kind string

// The kinds of radio.
const (
	KindZigbee  Kind = "zigbee"
	KindZWave   Kind = "zwave"
	KindUnknown Kind = "unknown"
)

// Status is the outcome of one readiness check.
type Status string

// The check outcomes.
const (
	StatusOK         Status = "ok"
	StatusWarning    Status = "warning"
	StatusProblem    Status = "problem"
	StatusNotChecked Status = "not-checked"
)

// Report is everything Detect found. Its JSON form is the stable document
// 'hakube detect --json' prints.
type Report struct {
	Schema string `json:"schema"`
	// Root is the directory everything was read under.
	Root string `json:"root"`
	// Live is true when Root is this running machine: only then are the
	// k3s API, the user id and free disk space probed.
	Live bool `json:"live"`
	// Arch is the userland architecture as Go and container images name
	// it: amd64, arm64, arm (32-bit ARM), another GOARCH name, or unknown.
	Arch string `json:"arch"`
	// ArchFrom says how Arch was found.
	ArchFrom string  `json:"arch_from"`
	Board    Board   `json:"board"`
	CPU      CPU     `json:"cpu"`
	Memory   Memory  `json:"memory"`
	Disk     Disk    `json:"disk"`
	K3s      K3s     `json:"k3s"`
	Radios   []Radio `json:"radios"`
	// Timezone is the IANA zone the machine is set to ("" if not set), and
	// TimezoneFrom the file it was read from.
	Timezone     string   `json:"timezone,omitempty"`
	TimezoneFrom string   `json:"timezone_from,omitempty"`
	Checks       []Check  `json:"checks"`
	Warnings     []string `json:"warnings"`
}

// Board is the machine's make and model.
type Board struct {
	// Kind is raspberry-pi, device-tree (another ARM board), pc,
	// virtual-machine or unknown.
	Kind       string   `json:"kind"`
	Vendor     string   `json:"vendor,omitempty"`
	Model      string   `json:"model,omitempty"`
	Compatible []string `json:"compatible,omitempty"`
	// From is the file the model was read from.
	From string `json:"from,omitempty"`
}

// CPU is the processor count and model.
type CPU struct {
	Count int    `json:"count"`
	Model string `json:"model,omitempty"`
	// ARMv6 is true for ARMv6 cores (Raspberry Pi 1 and Zero), which k3s
	// and most images do not support.
	ARMv6 bool `json:"armv6,omitempty"`
}

// Memory is the memory size, always as int64 so that 32-bit ARM reads a
// 4 GiB or 8 GiB board right.
type Memory struct {
	// TotalBytes is MemTotal from /proc/meminfo: what the kernel can use.
	TotalBytes int64 `json:"total_bytes"`
	// BoardBytes is TotalBytes rounded up to the size the board is sold as
	// (512 MiB steps up to 4 GiB, 1 GiB steps above): firmware, GPU and
	// kernel keep a little for themselves.
	BoardBytes int64 `json:"board_bytes"`
}

// Disk is the free space where k3s keeps images and volumes.
type Disk struct {
	// Path is the k3s data directory; free space is measured on it or, if
	// it does not exist yet, on its nearest existing parent.
	Path      string `json:"path"`
	FreeBytes int64  `json:"free_bytes,omitempty"`
	Checked   bool   `json:"checked"`
}

// K3s is what was found of k3s.
type K3s struct {
	// Binary is the k3s executable found, or empty.
	Binary string `json:"binary,omitempty"`
	// API is running, not-running or not-checked.
	API string `json:"api"`
	// APIAddress is where the API was probed.
	APIAddress string `json:"api_address"`
	// DataDir is k3s's data directory, from its config.yaml or the default.
	DataDir     string `json:"data_dir"`
	DataDirFrom string `json:"data_dir_from"`
	// Kubeconfig is the admin kubeconfig k3s writes.
	Kubeconfig       string `json:"kubeconfig"`
	KubeconfigExists bool   `json:"kubeconfig_exists"`
}

// Radio is one serial radio: a /dev/ttyACM* or /dev/ttyUSB* device, or a
// network coordinator given as tcp://host:port.
type Radio struct {
	// Device is /dev/ttyACM0-style, or the network address.
	Device string `json:"device"`
	// Path is what to configure: the /dev/serial/by-id link, the by-path
	// link when by-id is ambiguous, the device itself when neither exists,
	// or the network address.
	Path          string `json:"path"`
	ByID          string `json:"by_id,omitempty"`
	ByPath        string `json:"by_path,omitempty"`
	ByIDAmbiguous bool   `json:"by_id_ambiguous,omitempty"`
	Network       bool   `json:"network,omitempty"`

	VID          string `json:"vid,omitempty"`
	PID          string `json:"pid,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Product      string `json:"product,omitempty"`
	Serial       string `json:"serial,omitempty"`
	// Interface is the USB interface number (bInterfaceNumber).
	Interface *int   `json:"interface,omitempty"`
	Driver    string `json:"driver,omitempty"`

	Kind Kind `json:"kind"`
	// Name is the product from the matcher table.
	Name string `json:"name,omitempty"`
	// Adapter, Baudrate and RTSCTS are Zigbee2MQTT's serial settings for
	// a Zigbee coordinator.
	Adapter  string `json:"adapter,omitempty"`
	Baudrate int    `json:"baudrate,omitempty"`
	RTSCTS   *bool  `json:"rtscts,omitempty"`
	// MatchedOn lists the evidence that decided: ids, manufacturer,
	// product, by-id.
	MatchedOn []string `json:"matched_on,omitempty"`
	// Reason says why the radio is unknown.
	Reason string `json:"reason,omitempty"`
	// Candidates are the products an ambiguous radio could be.
	Candidates []string `json:"candidates,omitempty"`
	// Notes are caveats worth showing (firmware, unstable path).
	Notes []string `json:"notes,omitempty"`
}

// CheckID names a host readiness check; callers branch on these.
type CheckID string

// The readiness checks.
const (
	CheckK3s          CheckID = "k3s"
	CheckK3sAPI       CheckID = "k3s-api"
	CheckRoot         CheckID = "root"
	CheckDisk         CheckID = "disk"
	CheckArch         CheckID = "arch"
	CheckMemory       CheckID = "memory"
	CheckMemoryCgroup CheckID = "memory-cgroup"
	CheckNodePort     CheckID = "node-port"
)

// Check is one host readiness check.
type Check struct {
	ID     CheckID `json:"id"`
	Title  string  `json:"title"`
	Status Status  `json:"status"`
	Detail string  `json:"detail"`
	Fix    string  `json:"fix,omitempty"`
}

// ZigbeeCoordinators returns the radios that are Zigbee coordinators.
func (r *Report) ZigbeeCoordinators() []Radio {
	var out []Radio
	for _, rd := range r.Radios {
		if rd.Kind == KindZigbee {
			out = append(out, rd)
		}
	}
	return out
}

// Problems returns the checks that failed (not warnings).
func (r *Report) Problems() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == StatusProblem {
			out = append(out, c)
		}
	}
	return out
}

// Check returns the check with id, if any.
func (r *Report) Check(id CheckID) (Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// ImageArch returns the container image platform for Arch: linux/amd64,
// linux/arm64 or linux/arm/v7, or "" when hakube has no images for it.
func (r *Report) ImageArch() string {
	switch r.Arch {
	case "amd64", "arm64":
		return "linux/" + r.Arch
	case "arm":
		if r.CPU.ARMv6 {
			return ""
		}
		return "linux/arm/v7"
	}
	return ""
}

// WriteJSON writes r as the indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Probes are the checks that look at the running machine rather than at
// files. Tests replace them; a nil field keeps the real one.
type Probes struct {
	// LookPath finds an executable on PATH.
	LookPath func(file string) (string, error)
	// Dial reports whether something accepts TCP connections at addr.
	Dial func(addr string) bool
	// UID is the effective user id.
	UID func() int
	// FreeBytes is the space available to unprivileged users at path.
	FreeBytes func(path string) (int64, error)
	// GOARCH is the running binary's architecture, used for Arch only
	// when the root's own /bin/sh cannot be read.
	GOARCH string
}

// DefaultProbes are the real probes.
func DefaultProbes() Probes {
	return Probes{
		LookPath: exec.LookPath,
		Dial: func(addr string) bool {
			c, err := net.DialTimeout("tcp", addr, 700*time.Millisecond)
			if err != nil {
				return false
			}
			c.Close()
			return true
		},
		UID:       os.Geteuid,
		FreeBytes: freeBytes,
		GOARCH:    runtime.GOARCH,
	}
}

type options struct {
	probes   Probes
	live     *bool
	nodePort int
	network  []string
}

// Option changes how Detect looks.
type Option func(*options)

// WithProbes replaces the live probes whose fields are set in p.
func WithProbes(p Probes) Option {
	return func(o *options) {
		if p.LookPath != nil {
			o.probes.LookPath = p.LookPath
		}
		if p.Dial != nil {
			o.probes.Dial = p.Dial
		}
		if p.UID != nil {
			o.probes.UID = p.UID
		}
		if p.FreeBytes != nil {
			o.probes.FreeBytes = p.FreeBytes
		}
		if p.GOARCH != "" {
			o.probes.GOARCH = p.GOARCH
		}
	}
}

// WithLive forces the live probes on or off. By default they run only
// when the root is "/".
func WithLive(live bool) Option { return func(o *options) { o.live = &live } }

// WithNodePort sets the NodePort checked for a listener (default 30123).
func WithNodePort(port int) Option { return func(o *options) { o.nodePort = port } }

// WithNetworkCoordinators adds network Zigbee coordinators, each
// tcp://host:port or mdns://name, to the radios found.
func WithNetworkCoordinators(addrs ...string) Option {
	return func(o *options) { o.network = append(o.network, addrs...) }
}

// ErrRoot is returned when the root to inspect is not a directory.
var ErrRoot = errors.New("not a directory to inspect")

// Detect inspects the tree under root ("" means "/") and returns one
// report. It fails only when root is not a directory or a network
// coordinator address is malformed; anything wrong inside the tree is
// written into the report.
func Detect(root string, opts ...Option) (*Report, error) {
	if root == "" {
		root = "/"
	}
	o := options{probes: DefaultProbes(), nodePort: DefaultNodePort}
	for _, opt := range opts {
		opt(&o)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", root, unwrapPathErr(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("root %s: %w", root, ErrRoot)
	}
	var network []Radio
	for _, addr := range o.network {
		rd, err := NetworkRadio(addr)
		if err != nil {
			return nil, err
		}
		network = append(network, rd)
	}
	live := isSlash(root)
	if o.live != nil {
		live = *o.live
	}
	d := &detector{fs: rootFS{root: root}, probes: o.probes, live: live, nodePort: o.nodePort}
	r := &Report{Schema: Schema, Root: filepath.Clean(root), Live: live, Radios: []Radio{}, Checks: []Check{}, Warnings: []string{}}
	d.board(r)
	d.cpu(r)
	d.memory(r)
	d.arch(r)
	d.k3s(r)
	d.disk(r)
	d.serial(r)
	r.Radios = append(r.Radios, network...)
	r.Timezone, r.TimezoneFrom = TimezoneOf(root)
	d.checks(r)
	return r, nil
}

func isSlash(root string) bool {
	abs, err := filepath.Abs(root)
	if err != nil {
		return false
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return abs == "/"
}

// detector carries what every part of Detect reads through.
type detector struct {
	fs       rootFS
	probes   Probes
	live     bool
	nodePort int
}

func (d *detector) warnf(r *Report, format string, args ...any) {
	r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...))
}
