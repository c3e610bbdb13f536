package installer

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

// ErrCredentialsMissing says an install exists but its credentials file is
// gone and cannot be recovered: generating new ones would break it.
var ErrCredentialsMissing = errors.New("the credentials of an existing install are missing")

// Change is what happens to one manifest file.
type Change string

// The file changes a plan can hold.
const (
	Added     Change = "added"
	Changed   Change = "changed"
	Unchanged Change = "unchanged"
	Removed   Change = "removed"
)

// CredentialStatus says where a plan's credentials come from.
type CredentialStatus string

// The credential sources.
const (
	CredentialsNew       CredentialStatus = "new"       // generated now: first install
	CredentialsKept      CredentialStatus = "kept"      // from the state directory
	CredentialsRecovered CredentialStatus = "recovered" // from the cluster's copy
)

// FileChange is one manifest file and what the plan does to it. Lines of
// files that hold Secrets are counted, never shown.
type FileChange struct {
	File      string   `json:"file"`
	Component string   `json:"component"`
	Change    Change   `json:"change"`
	Added     int      `json:"lines_added"`
	Removed   int      `json:"lines_removed"`
	Images    []string `json:"images,omitempty"` // "old -> new"
	// Cluster is what k3s has for this file: "current" (its Addon carries
	// the file's checksum), "older" (another version), "absent", or "" when
	// there is no cluster to ask.
	Cluster string `json:"cluster,omitempty"`
}

// Port is one port the stack opens.
type Port struct {
	Component string `json:"component"`
	Service   string `json:"service"`
	Name      string `json:"name"`
	Port      int    `json:"port"`
	NodePort  int    `json:"node_port,omitempty"`
	// Reach is where it can be reached from: "cluster", "node" (NodePort),
	// "load-balancer", or "host" (host network).
	Reach string `json:"reach"`
}

// Volume is one persistent volume claim.
type Volume struct {
	Claim        string `json:"claim"`
	Component    string `json:"component"`
	Size         string `json:"size"`
	StorageClass string `json:"storage_class"`
	// Exists is true when the claim is already in the cluster (its data is
	// kept); false when it is new or there is no cluster to ask.
	Exists bool `json:"exists"`
}

// Image is one container image the stack runs.
type Image struct {
	Component string `json:"component"`
	Ref       string `json:"ref"`
}

// Plan is everything an install would do, computed once from the loaded
// settings: the rendered files and how they differ from the files on disk
// and from what k3s applied, the images, ports and volumes, and whether the
// credentials are new, kept or recovered. install's confirmation, upgrade
// --dry-run and the wizard's review show it; Apply carries it out. Making
// a plan writes nothing.
type Plan struct {
	Config       config.Config    `json:"config"`
	ManifestsDir string           `json:"manifests_dir"`
	Files        []FileChange     `json:"files"`
	Images       []Image          `json:"images"`
	Ports        []Port           `json:"ports"`
	Volumes      []Volume         `json:"volumes"`
	Credentials  CredentialStatus `json:"credentials"`
	// Notes are remarks worth showing before applying.
	Notes []string `json:"notes,omitempty"`

	rendered []manifests.File
	secrets  manifests.Secrets
	// installID is this install's identity (new ones are written by Apply).
	installID string
	// keptClaims are the claims the files on disk hold: they stay rendered.
	keptClaims []manifests.Claim
	// secretsChanged says kept credentials gained something (the broker's
	// TLS certificate, a device account) that Apply must save.
	secretsChanged bool
}

// Changes are the files that change (added, changed, removed).
func (p *Plan) Changes() []FileChange {
	var out []FileChange
	for _, f := range p.Files {
		if f.Change != Unchanged {
			out = append(out, f)
		}
	}
	return out
}

// Rendered returns the files Apply writes. They hold real credentials in
// their Secret objects: never print them.
func (p *Plan) Rendered() []manifests.File { return p.rendered }

// PlanOptions change how a plan is made.
type PlanOptions struct {
	// RegenerateCredentials makes new credentials even where an install
	// exists without its credentials file (the paired Zigbee network, the
	// database password and every login change).
	RegenerateCredentials bool
	// Placeholders renders with placeholder credentials (for printing).
	Placeholders bool
	// Secrets replaces the kept credentials (a device account added or
	// removed); Apply saves them. nil: the kept ones.
	Secrets *manifests.Secrets
}

// Plan computes what installing cfg would do. It reads the state directory,
// the manifests directory and (when Clients is set) the cluster, and writes
// nothing.
func (in *Installer) Plan(ctx context.Context, cfg config.Config, o PlanOptions) (*Plan, error) {
	p := &Plan{Config: cfg, ManifestsDir: ManifestsDir(in.DataDir)}
	if err := in.State.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPreflight, err)
	}
	if saved, err := in.State.SavedConfig(); err == nil {
		if err := volumesUnchanged(&saved, &cfg); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var err error
	if !o.Placeholders {
		if err := in.checkOwner(&cfg); err != nil {
			return nil, err
		}
	}
	if o.Placeholders {
		p.secrets, p.Credentials = PlaceholderSecrets(), CredentialsKept
	} else if p.secrets, p.Credentials, err = in.credentials(ctx, &cfg, o.RegenerateCredentials); err != nil {
		return nil, err
	}
	if o.Secrets != nil && !o.Placeholders {
		p.secrets, p.secretsChanged = *o.Secrets, true
	}
	if cfg.MQTTExposed() && cfg.ClusterIssuer == "" && !o.Placeholders {
		changed, err := EnsureMQTTTLS(&p.secrets.MQTTTLS, MQTTTLSHosts(&cfg), time.Now(), rand.Reader)
		if err != nil {
			return nil, err
		}
		p.secretsChanged = p.secretsChanged || changed
	}
	if cfg.Database == config.DatabaseExternal && !o.Placeholders {
		if p.secrets.DatabaseURL, err = config.ReadDatabaseURL(cfg.DatabaseURLFile); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
		}
	}
	opts := manifests.Options{Images: in.Images}
	if !o.Placeholders {
		if p.installID, err = in.State.idOrNew(); err != nil {
			return nil, err
		}
		opts.InstallID = p.installID
	}
	if p.keptClaims, err = claimsOnDisk(p.ManifestsDir); err != nil {
		return nil, err
	}
	opts.KeepClaims = p.keptClaims
	if in.Clients != nil {
		opts.ServiceMonitorCRD = in.Clients.HasServiceMonitorCRD()
		if cfg.Monitoring == config.MonitoringOn && !opts.ServiceMonitorCRD {
			return nil, fmt.Errorf("%w: monitoring: true needs the Prometheus operator (ServiceMonitor CRD), which this cluster lacks: install it, or set monitoring: auto", ErrPreflight)
		}
		if cfg.MQTTExposed() && cfg.ClusterIssuer != "" && !in.Clients.HasCertificateCRD() {
			return nil, fmt.Errorf("%w: cluster-issuer %s signs the broker's TLS certificate through cert-manager, which this cluster lacks (no Certificate kind): install cert-manager, or remove cluster-issuer so hakube's own CA signs it", ErrPreflight, cfg.ClusterIssuer)
		}
		if err := in.checkNodePort(ctx, &cfg); err != nil {
			return nil, err
		}
	}
	if p.rendered, err = manifests.Render(&cfg, p.secrets, opts); err != nil {
		return nil, err
	}
	p.Files = diffFiles(p.ManifestsDir, p.rendered)
	if in.Clients != nil {
		if err := in.compareCluster(ctx, p); err != nil {
			return nil, err
		}
	}
	if err := p.describe(); err != nil {
		return nil, err
	}
	if in.Clients != nil {
		in.markExistingClaims(ctx, p)
	}
	if err := in.checkHostPorts(p); err != nil {
		return nil, err
	}
	return p, nil
}

// checkHostPorts refuses host-network mode when a port the pods will bind
// on the host is taken. Once our own pods run there, they hold the ports:
// the check runs when host networking is new to this install.
func (in *Installer) checkHostPorts(p *Plan) error {
	if !p.Config.HostNetwork {
		return nil
	}
	if saved, err := in.State.SavedConfig(); err == nil && saved.HostNetwork {
		return nil
	}
	var taken []string
	for _, port := range p.Ports {
		if port.Reach != "host" {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", port.Port))
		if err != nil {
			taken = append(taken, fmt.Sprintf("%d (%s %s)", port.Port, port.Component, port.Name))
			continue
		}
		l.Close()
	}
	if len(taken) > 0 {
		return fmt.Errorf("%w: host-network: true binds the pods' ports on the host, and these are taken: %s.\n"+
			"  Stop what listens there ('ss -ltnp' shows it), or keep host-network: false (no mDNS/SSDP discovery, but isolated from the host)",
			ErrPreflight, strings.Join(taken, ", "))
	}
	return nil
}

// credentials returns the kept credentials, or recovers them from the
// cluster's copy, or generates new ones for a first install. An install
// that exists without its credentials is never silently given new ones.
func (in *Installer) credentials(ctx context.Context, cfg *config.Config, regenerate bool) (manifests.Secrets, CredentialStatus, error) {
	sec, err := in.State.Secrets()
	if err == nil {
		return sec, CredentialsKept, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return sec, "", err
	}
	if !regenerate && in.Clients != nil {
		if sec, ok, err := in.recoverState(ctx, cfg.Namespace); err != nil {
			return sec, "", err
		} else if ok {
			return sec, CredentialsRecovered, nil
		}
	}
	if evidence := in.installEvidence(ctx, cfg.Namespace); len(evidence) > 0 && !regenerate {
		return sec, "", fmt.Errorf("%w: %s is missing, but an install exists (%s) and the cluster holds no copy of its credentials.\n"+
			"  Restore %s from a backup ('hakube restore ARCHIVE' or copy it back), or, to start over with new credentials\n"+
			"  (a new Zigbee network key: every device must be paired again; new database and MQTT passwords), run again with --regenerate-credentials",
			ErrCredentialsMissing, in.State.SecretsPath(), strings.Join(evidence, ", "), SecretsFile)
	}
	sec, err = GenerateSecrets(rand.Reader)
	return sec, CredentialsNew, err
}

// claimsOnDisk reads the claims our files on disk hold (any layout), so
// that a new rendering keeps every one of them.
func claimsOnDisk(dir string) ([]manifests.Claim, error) {
	var out []manifests.Claim
	for _, name := range manifests.FileNames() {
		b, err := readRegular(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		claims, err := manifests.ParseClaims(b)
		if err != nil {
			return nil, fmt.Errorf("read the claims in %s: %w (it is not a file hakube wrote: move it away)", name, err)
		}
		out = append(out, claims...)
	}
	return out, nil
}

// installEvidence lists what shows an install exists.
func (in *Installer) installEvidence(ctx context.Context, namespace string) []string {
	var out []string
	if _, err := os.Stat(in.State.ConfigPath()); err == nil {
		out = append(out, "saved configuration "+in.State.ConfigPath())
	}
	for _, name := range manifests.FileNames() {
		if _, err := os.Lstat(filepath.Join(ManifestsDir(in.DataDir), name)); err == nil {
			out = append(out, "manifest files in "+ManifestsDir(in.DataDir))
			break
		}
	}
	if in.Clients != nil {
		list, err := in.Clients.Kube.Secrets.List(ctx, namespace, metav1.ListOptions{LabelSelector: OurLabels})
		if err == nil && len(list.Items) > 0 {
			out = append(out, fmt.Sprintf("%d Secrets in namespace %s", len(list.Items), namespace))
		}
	}
	return out
}

// compareCluster fills each file's Cluster state from its Addon.
func (in *Installer) compareCluster(ctx context.Context, p *Plan) error {
	list, err := in.Clients.Kube.Addons.List(ctx, "kube-system", metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list k3s Addons: %w", err)
	}
	sums := map[string]string{}
	for _, a := range list.Items {
		sums[a.Name] = a.Spec.Checksum
	}
	byName := map[string]manifests.File{}
	for _, f := range p.rendered {
		byName[f.Name] = f
	}
	for i := range p.Files {
		fc := &p.Files[i]
		sum, ok := sums[AddonName(fc.File)]
		switch {
		case !ok:
			fc.Cluster = "absent"
		case fc.Change != Removed && sum == Sum(byName[fc.File].Content):
			fc.Cluster = "current"
		default:
			fc.Cluster = "older"
		}
	}
	return nil
}

// markExistingClaims sets Exists for the claims already in the cluster.
func (in *Installer) markExistingClaims(ctx context.Context, p *Plan) {
	list, err := in.Clients.Kube.Claims.List(ctx, p.Config.Namespace, metav1.ListOptions{})
	if err != nil {
		if !apierrors.IsNotFound(err) {
			p.Notes = append(p.Notes, "could not list the existing volumes: "+shortErr(err))
		}
		return
	}
	for i := range p.Volumes {
		for _, c := range list.Items {
			if c.Name == p.Volumes[i].Claim {
				p.Volumes[i].Exists = true
			}
		}
	}
}

// diffFiles compares rendered files with those in dir.
func diffFiles(dir string, files []manifests.File) []FileChange {
	var out []FileChange
	seen := map[string]bool{}
	for _, f := range files {
		seen[f.Name] = true
		fc := FileChange{File: f.Name, Component: f.Component}
		old, err := readRegular(filepath.Join(dir, f.Name))
		switch {
		case err != nil:
			fc.Change, fc.Added = Added, strings.Count(string(f.Content), "\n")
		case bytes.Equal(old, f.Content):
			fc.Change = Unchanged
		default:
			fc.Change = Changed
			added, removed := lineDiff(strings.Split(string(old), "\n"), strings.Split(string(f.Content), "\n"))
			fc.Added, fc.Removed = len(added), len(removed)
			fc.Images = imageChanges(added, removed)
		}
		out = append(out, fc)
	}
	for _, name := range manifests.FileNames() {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil && !seen[name] {
			out = append(out, FileChange{File: name, Component: manifests.ComponentOf(name), Change: Removed})
		}
	}
	return out
}

// readRegular reads path only when it is a regular file (not a symlink).
func readRegular(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return os.ReadFile(path)
}

// imageChanges pairs removed and added image lines of the same repository.
func imageChanges(added, removed []string) []string {
	var out []string
	for _, r := range removed {
		img, ok := imageOf(r)
		if !ok {
			continue
		}
		for _, a := range added {
			if nimg, ok := imageOf(a); ok && repoOf(nimg) == repoOf(img) && !slices.Contains(out, img+" -> "+nimg) {
				out = append(out, img+" -> "+nimg)
			}
		}
	}
	return out
}

func imageOf(line string) (string, bool) {
	t := strings.TrimSpace(line)
	t = strings.TrimPrefix(t, "- ")
	if v, ok := strings.CutPrefix(t, "image: "); ok {
		return strings.Trim(v, `"'`), true
	}
	return "", false
}

func repoOf(image string) string { return image[:max(strings.LastIndex(image, ":"), 0)] }

// lineDiff returns the lines only in b (added) and only in a (removed),
// by longest common subsequence.
func lineDiff(a, b []string) (added, removed []string) {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			removed = append(removed, a[i])
			i++
		default:
			added = append(added, b[j])
			j++
		}
	}
	removed = append(removed, a[i:]...)
	added = append(added, b[j:]...)
	return added, removed
}

// object is the part of a rendered object the plan reads.
type object struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		Type             string `yaml:"type"`
		StorageClassName string `yaml:"storageClassName"`
		Resources        struct {
			Requests map[string]string `yaml:"requests"`
		} `yaml:"resources"`
		Ports []struct {
			Name     string `yaml:"name"`
			Port     int    `yaml:"port"`
			NodePort int    `yaml:"nodePort"`
		} `yaml:"ports"`
		ClusterIP string `yaml:"clusterIP"`
		Template  struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		JobTemplate struct {
			Spec struct {
				Template struct {
					Spec podSpec `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		} `yaml:"jobTemplate"`
	} `yaml:"spec"`
}

type podSpec struct {
	HostNetwork    bool        `yaml:"hostNetwork"`
	InitContainers []container `yaml:"initContainers"`
	Containers     []container `yaml:"containers"`
}

type container struct {
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
	Ports []struct {
		ContainerPort int    `yaml:"containerPort"`
		Name          string `yaml:"name"`
	} `yaml:"ports"`
}

// describe lists the images, ports and volumes of the rendered objects.
func (p *Plan) describe() error {
	seenImage := map[string]bool{}
	addImage := func(comp, ref string) {
		if ref != "" && !seenImage[ref] {
			seenImage[ref] = true
			p.Images = append(p.Images, Image{Component: comp, Ref: ref})
		}
	}
	for _, f := range p.rendered {
		dec := yaml.NewDecoder(bytes.NewReader(f.Content))
		for {
			var o object
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("read rendered %s: %w", f.Name, err)
			}
			comp := o.Metadata.Labels["app.kubernetes.io/component"]
			if comp == "" {
				comp = f.Component
			}
			switch o.Kind {
			case "PersistentVolumeClaim":
				p.Volumes = append(p.Volumes, Volume{Claim: o.Metadata.Name, Component: comp,
					Size: o.Spec.Resources.Requests["storage"], StorageClass: o.Spec.StorageClassName})
			case "Service":
				if o.Spec.ClusterIP == "None" {
					continue
				}
				reach := map[string]string{"NodePort": "node", "LoadBalancer": "load-balancer"}[o.Spec.Type]
				if reach == "" {
					reach = "cluster"
				}
				for _, sp := range o.Spec.Ports {
					p.Ports = append(p.Ports, Port{Component: comp, Service: o.Metadata.Name, Name: sp.Name, Port: sp.Port, NodePort: sp.NodePort, Reach: reach})
				}
			case "StatefulSet", "Deployment", "DaemonSet":
				ps := o.Spec.Template.Spec
				for _, c := range append(slices.Clone(ps.InitContainers), ps.Containers...) {
					addImage(c.Name, c.Image)
				}
				if ps.HostNetwork {
					for _, c := range ps.Containers {
						for _, cp := range c.Ports {
							p.Ports = append(p.Ports, Port{Component: c.Name, Service: o.Metadata.Name, Name: cp.Name, Port: cp.ContainerPort, Reach: "host"})
						}
					}
				}
			case "CronJob":
				ps := o.Spec.JobTemplate.Spec.Template.Spec
				for _, c := range append(slices.Clone(ps.InitContainers), ps.Containers...) {
					addImage(comp, c.Image)
				}
			}
		}
	}
	sort.SliceStable(p.Ports, func(i, j int) bool { return p.Ports[i].Reach < p.Ports[j].Reach })
	return nil
}
