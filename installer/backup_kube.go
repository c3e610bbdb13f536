package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

// postgresUID is the PostgreSQL image's user.
const postgresUID = 70

// BackupCronJob is the CronJob backup.yaml renders.
const BackupCronJob = "home-assistant-backup"

// Create creates obj in ns.
func (r Resource[T, L]) Create(ctx context.Context, ns string, obj T) (T, error) {
	out := r.newT()
	body, err := json.Marshal(obj)
	if err != nil {
		return out, err
	}
	err = r.rc.Post().AbsPath(r.path(ns, "")).SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Into(out)
	return out, err
}

// MergePatch applies a JSON merge patch to one object.
func (r Resource[T, L]) MergePatch(ctx context.Context, ns, name string, patch []byte) error {
	return r.rc.Patch(types.MergePatchType).AbsPath(r.path(ns, name)).Body(patch).Do(ctx).Error()
}

// volumes reads PersistentVolumes (cluster-scoped).
func (c *Clients) volumes() Resource[*corev1.PersistentVolume, *corev1.PersistentVolumeList] {
	return newResource[*corev1.PersistentVolume, *corev1.PersistentVolumeList](base{rc: c.Kube.rest, prefix: "/api/v1", plural: "persistentvolumes"})
}

// BackupNowResult is what a manual backup run did.
type BackupNowResult struct {
	Job     string `json:"job"`
	Archive string `json:"archive,omitempty"`
}

var wroteRE = regexp.MustCompile(`backup: wrote (\S+)`)

// BackupNow runs the backup CronJob's job at once, and the radio
// namespace's (which writes the run's part "zigbee2mqtt") when there is
// one, both named for the same second so their archives pair, and follows
// them until they complete, fail or timeout passes. Upgrade calls it
// before changing anything.
func BackupNow(ctx context.Context, c *Clients, rep Reporter, namespace string, timeout time.Duration) (*BackupNowResult, error) {
	cj, err := c.Kube.CronJobs.Get(ctx, namespace, BackupCronJob)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: no backup CronJob in namespace %s: is hakube installed? run 'hakube install' first", ErrNoBackupJob, namespace)
		}
		return nil, fmt.Errorf("read the backup CronJob: %w", err)
	}
	radioNS := namespace + "-radio"
	radio, err := c.Kube.CronJobs.Get(ctx, radioNS, manifests.RadioBackupCronJob)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("read the radio namespace's backup CronJob: %w", err)
	}
	// backup.py reads the run's time from the Job's name ("-m<seconds>").
	suffix := fmt.Sprintf("-m%d", time.Now().Unix())
	name := BackupCronJob + suffix
	if err := startJobOf(ctx, c, cj, name); err != nil {
		return nil, err
	}
	rep.emit(LevelInfo, "backup", "job/"+name, "started", "")
	res := &BackupNowResult{Job: name}
	var radioJob string
	if radio != nil && radio.Name != "" {
		radioJob = manifests.RadioBackupCronJob + suffix
		if err := startJobOf(ctx, c, radio, radioJob); err != nil {
			return res, err
		}
		rep.emit(LevelInfo, "backup", "job/"+radioJob, "started", "")
	}
	if err := followJob(ctx, c, rep, namespace, name, timeout, "backup"); err != nil {
		return res, err
	}
	if radioJob != "" {
		if err := followJob(ctx, c, rep, radioNS, radioJob, timeout, "backup"); err != nil {
			return res, fmt.Errorf("the radio's part of the backup: %w", err)
		}
	}
	res.Archive = archiveFromLogs(ctx, c, namespace, name)
	msg := "backup complete"
	if res.Archive != "" {
		msg += ": " + res.Archive
	}
	rep.emit(LevelDone, "backup", "job/"+name, msg, "")
	return res, nil
}

// ErrNoBackupJob: the cluster has no backup CronJob (not installed, or
// installed by a release before backups).
var ErrNoBackupJob = errors.New("no backup job")

// startJobOf creates a Job named name from a CronJob's template, as
// 'kubectl create job --from=cronjob/...' does.
func startJobOf(ctx context.Context, c *Clients, cj *batchv1.CronJob, name string) error {
	job := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: cj.Namespace, Labels: cj.Spec.JobTemplate.Labels,
			Annotations:     map[string]string{"cronjob.kubernetes.io/instantiate": "manual"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID}}},
		Spec: cj.Spec.JobTemplate.Spec,
	}
	if _, err := c.Kube.Jobs.Create(ctx, cj.Namespace, job); err != nil {
		return fmt.Errorf("start the backup job %s/%s: %w", cj.Namespace, name, err)
	}
	return nil
}

func archiveFromLogs(ctx context.Context, c *Clients, ns, job string) string {
	pods, err := c.Kube.Pods.List(ctx, ns, metav1.ListOptions{LabelSelector: "job-name=" + job})
	if err != nil {
		return ""
	}
	for _, p := range pods.Items {
		raw, err := c.Kube.Raw().Get().AbsPath("/api/v1/namespaces", ns, "pods", p.Name, "log").
			Param("container", "backup").DoRaw(ctx)
		if err != nil {
			continue
		}
		if m := wroteRE.FindSubmatch(raw); m != nil {
			return filepath.Base(string(m[1]))
		}
	}
	return ""
}

// followJob polls a Job until it completes or fails, reporting why its pod
// waits (the scheduler's and kubelet's messages, as install does).
func followJob(ctx context.Context, c *Clients, rep Reporter, ns, name string, timeout time.Duration, phase string) error {
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w := &waiter{c: c, rep: rep, ns: ns, advice: map[string]string{}, logs: c.lastLogLines, events: c.podWarnings}
	for {
		j, err := c.Kube.Jobs.Get(ctx, ns, name)
		if err == nil {
			for _, cond := range j.Status.Conditions {
				if cond.Status != corev1.ConditionTrue {
					continue
				}
				switch cond.Type {
				case batchv1.JobComplete:
					return nil
				case batchv1.JobFailed:
					return fmt.Errorf("%w: job %s failed (%s): see 'kubectl logs -n %s job/%s --all-containers'", ErrRejected, name, cond.Message, ns, name)
				}
			}
			if pods, err := c.Kube.Pods.List(ctx, ns, metav1.ListOptions{LabelSelector: "job-name=" + name}); err == nil {
				for i := range pods.Items {
					w.adviseOn(&pods.Items[i])
				}
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w: job %s did not finish within %s: see 'kubectl describe job -n %s %s'", ErrTimeout, name, timeout, ns, name)
			}
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// VolumeDir finds the host directory of a claim: the PersistentVolume's
// hostPath or local path (k3s's local-path provisioner uses one of them),
// else the local-path layout under <data-dir>/storage.
func VolumeDir(ctx context.Context, c *Clients, dataDir, ns, claim string) (string, error) {
	if c != nil {
		pvc, err := c.Kube.Claims.Get(ctx, ns, claim)
		if err == nil && pvc.Spec.VolumeName != "" {
			pv, err := c.volumes().Get(ctx, "", pvc.Spec.VolumeName)
			if err == nil {
				switch {
				case pv.Spec.HostPath != nil:
					return pv.Spec.HostPath.Path, nil
				case pv.Spec.Local != nil:
					return pv.Spec.Local.Path, nil
				}
				return "", fmt.Errorf("volume %s of claim %s is not on this host (neither hostPath nor local): restore needs k3s's local-path storage", pv.Name, claim)
			}
		}
	}
	return LocalVolumeDir(dataDir, ns, claim)
}

// RestorePlan says what a restore of an archive will overwrite.
type RestorePlan struct {
	Archive   string          `json:"archive"`
	Manifest  *BackupManifest `json:"-"`
	Set       *BackupSet      `json:"-"`
	Created   string          `json:"created"`
	Contents  []string        `json:"contents"`
	StateDir  string          `json:"state_dir"`
	Volumes   []string        `json:"volumes"`
	Database  string          `json:"database,omitempty"`
	Skipped   []string        `json:"skipped,omitempty"`
	ConfigYML []byte          `json:"-"`
}

// PlanRestore verifies the archive (refusing a bad one) and reads the
// configuration it carries, without changing anything.
func PlanRestore(archive, stateDir string, dirs []string) (*RestorePlan, config.Config, error) {
	set, err := VerifyBackupSet(archive, dirs)
	if err != nil {
		return nil, config.Config{}, err
	}
	man := set.Manifest
	tmp, err := os.MkdirTemp("", "hakube-restore-")
	if err != nil {
		return nil, config.Config{}, err
	}
	defer os.RemoveAll(tmp)
	if _, err := ExtractBackup(archive, map[string]string{"hakube": tmp}, "plan"); err != nil {
		return nil, config.Config{}, err
	}
	data, err := os.ReadFile(filepath.Join(tmp, ConfigFile))
	if err != nil {
		return nil, config.Config{}, fmt.Errorf("%w: %s holds no hakube settings (hakube/%s)", ErrBadArchive, archive, ConfigFile)
	}
	cfg, err := config.Unmarshal(archive+":hakube/"+ConfigFile, data)
	if err != nil {
		return nil, config.Config{}, err
	}
	p := &RestorePlan{Archive: archive, Manifest: man, Set: set, Created: man.Created, Contents: set.Contents(), StateDir: stateDir, ConfigYML: data}
	for _, v := range manifests.BackupVolumes(&cfg) {
		if v.Claim == "" {
			continue
		}
		if contains(p.Contents, v.Name) {
			p.Volumes = append(p.Volumes, fmt.Sprintf("%s (claim %s/%s)", v.Name, v.Namespace, v.Claim))
		}
	}
	if contains(man.Contents, "postgresql") {
		if cfg.UsesPostgreSQL() {
			p.Database = "PostgreSQL database homeassistant (every table is replaced)"
		} else {
			p.Skipped = append(p.Skipped, "postgresql (the restored settings do not bundle PostgreSQL)")
		}
	}
	return p, cfg, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Restore brings an archive back: hakube's settings and credentials first,
// then install (the caller's function, with those settings), then, with the
// workloads stopped, each volume's content and the database, then the
// workloads start again and every restored file is checked against the
// manifest. Replaced content is moved aside, never deleted.
func (in *Installer) Restore(ctx context.Context, plan *RestorePlan, install func(context.Context, config.Config) error) (*RestoreResult, error) {
	rep := in.Report
	stamp := RestoreStamp(time.Now())
	tmp, err := os.MkdirTemp("", "hakube-restore-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if _, err := ExtractBackup(plan.Archive, map[string]string{"hakube": tmp}, stamp); err != nil {
		return nil, err
	}
	moved, err := InstallState(tmp, in.State, stamp)
	if err != nil {
		return nil, err
	}
	for _, m := range moved {
		rep.emit(LevelInfo, "restore", "", "kept the replaced file as "+m, "")
	}
	rep.emit(LevelDone, "restore", "", "settings and credentials restored into "+in.State.Path, "")
	cfg, err := in.State.SavedConfig()
	if err != nil {
		return nil, err
	}
	if err := install(ctx, cfg); err != nil {
		return nil, err
	}
	c := in.Clients
	if c == nil {
		return nil, fmt.Errorf("%w: restoring volumes needs k3s's API: start k3s and run restore again", ErrPreflight)
	}
	ns := cfg.Namespace
	stopped := restoredWorkloads(&cfg)
	if err := scaleWorkloads(ctx, c, rep, stopped, 0); err != nil {
		return nil, err
	}
	// Each archive of the set (the main one, each part) and the volumes
	// it restores, wherever their namespaces are.
	targets := map[string]string{}
	partTargets := map[string]map[string]string{}
	for _, v := range manifests.BackupVolumes(&cfg) {
		if v.Claim == "" || !contains(plan.Contents, v.Name) {
			continue
		}
		dir, err := VolumeDir(ctx, c, in.DataDir, v.Namespace, v.Claim)
		if err != nil {
			return nil, err
		}
		if contains(plan.Manifest.Contents, v.Name) {
			targets[v.Name] = dir
			continue
		}
		for name, part := range plan.Set.Parts {
			if contains(part.Manifest.Contents, v.Name) {
				if partTargets[name] == nil {
					partTargets[name] = map[string]string{}
				}
				partTargets[name][v.Name] = dir
			}
		}
	}
	var pgDir string
	if contains(plan.Contents, "postgresql") && cfg.UsesPostgreSQL() {
		backups, err := VolumeDir(ctx, c, in.DataDir, ns, "home-assistant-backups-0")
		if err != nil {
			return nil, err
		}
		pgDir = filepath.Join(backups, "restore-"+stamp)
		targets["postgresql"] = pgDir
	}
	res, err := ExtractBackup(plan.Archive, targets, stamp)
	if err != nil {
		return res, err
	}
	if err := CheckRestored(plan.Manifest, res.Restored); err != nil {
		return res, err
	}
	for _, name := range plan.Manifest.Parts {
		part := plan.Set.Parts[name]
		pres, err := ExtractBackup(part.Path, partTargets[name], stamp)
		if err != nil {
			return res, err
		}
		if err := CheckRestored(part.Manifest, pres.Restored); err != nil {
			return res, err
		}
		res.Files += pres.Files
		for k, v := range pres.Restored {
			res.Restored[k] = v
		}
		for k, v := range pres.MovedAside {
			res.MovedAside[k] = v
		}
	}
	for dir, aside := range res.MovedAside {
		rep.emit(LevelInfo, "restore", "", fmt.Sprintf("the previous content of %s is kept in %s", dir, aside), "")
	}
	rep.emit(LevelDone, "restore", "", fmt.Sprintf("%d files restored and checked against the manifest", res.Files), "")
	if pgDir != "" {
		rows := filepath.Join(pgDir, "rows.txt")
		if err := os.WriteFile(rows, []byte(PGRowsFile(plan.Manifest)), 0o600); err != nil {
			return res, err
		}
		// The restore job runs as PostgreSQL's user (70), non-root.
		for _, p := range []string{pgDir, rows, filepath.Join(pgDir, "homeassistant.dump")} {
			if err := os.Chown(p, postgresUID, postgresUID); err != nil {
				return res, fmt.Errorf("hand the dump to the database restore: %w", err)
			}
		}
		if err := restorePostgreSQL(ctx, c, rep, &cfg, "restore-"+stamp, in.Timeout); err != nil {
			return res, err
		}
	}
	if err := scaleWorkloads(ctx, c, rep, stopped, 1); err != nil {
		return res, err
	}
	return res, nil
}

// restoredWorkloads are the StatefulSets stopped while their volumes are
// replaced: every one but PostgreSQL (its dump is restored through the
// running server).
func restoredWorkloads(cfg *config.Config) []manifests.Workload {
	var out []manifests.Workload
	for _, w := range manifests.Workloads(cfg) {
		if w.Component != "postgresql" {
			out = append(out, w)
		}
	}
	return out
}

// scaleWorkloads sets each StatefulSet's replicas and waits until its pods
// are gone (0) or Ready (1).
func scaleWorkloads(ctx context.Context, c *Clients, rep Reporter, wls []manifests.Workload, replicas int) error {
	for _, w := range wls {
		if err := scaleWorkload(ctx, c, rep, w, replicas); err != nil {
			return err
		}
	}
	return nil
}

// scaleWorkload sets one StatefulSet's replicas and waits until its pods
// are gone (0) or Ready (1).
func scaleWorkload(ctx context.Context, c *Clients, rep Reporter, wl manifests.Workload, replicas int) error {
	ns, name := wl.Namespace, wl.Name
	sts, err := c.Kube.StatefulSets.Get(ctx, ns, name)
	if err != nil {
		return fmt.Errorf("read statefulset %s/%s: %w", ns, name, err)
	}
	if sts.Spec.Selector == nil || len(sts.Spec.Selector.MatchLabels) == 0 {
		return fmt.Errorf("statefulset %s/%s has no label selector", ns, name)
	}
	sel := metav1.FormatLabelSelector(sts.Spec.Selector)
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
	if err := c.Kube.StatefulSets.MergePatch(ctx, ns, name, []byte(patch)); err != nil {
		return fmt.Errorf("scale %s/%s to %d: %w", ns, name, replicas, err)
	}
	what := "stopping the workloads"
	if replicas > 0 {
		what = "starting the workloads"
	}
	rep.emit(LevelWait, "restore", "statefulset/"+name, what, "")
	deadline := time.Now().Add(20 * time.Minute)
	w := &waiter{c: c, rep: rep, ns: ns, advice: map[string]string{}, logs: c.lastLogLines, events: c.podWarnings}
	for {
		// k3s re-applies every file while any one fails, which puts the
		// file's replicas back: say ours again on every look.
		_ = c.Kube.StatefulSets.MergePatch(ctx, ns, name, []byte(patch))
		pods, err := c.Kube.Pods.List(ctx, ns, metav1.ListOptions{LabelSelector: sel})
		if err == nil {
			if replicas == 0 && len(pods.Items) == 0 {
				return nil
			}
			if replicas > 0 && len(pods.Items) == replicas && podReady(&pods.Items[0]) {
				rep.emit(LevelDone, "restore", "statefulset/"+name, "Ready", "")
				return nil
			}
			for i := range pods.Items {
				w.adviseOn(&pods.Items[i])
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s did not finish in 20 minutes: see 'kubectl get pods -n %s'", ErrTimeout, what, ns)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// restorePostgreSQL runs PGRestoreScript in a Job next to the bundled
// PostgreSQL, reading the dump from the backups volume.
func restorePostgreSQL(ctx context.Context, c *Clients, rep Reporter, cfg *config.Config, sub string, timeout time.Duration) error {
	img, err := manifests.Versions()["postgresql"].Ref(cfg.Arch)
	if err != nil {
		return err
	}
	no, yes := false, true
	uid := int64(postgresUID)
	name := "home-assistant-restore-" + strings.ToLower(strings.TrimPrefix(sub, "restore-"))
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: cfg.Namespace, Labels: map[string]string{"app.kubernetes.io/name": "home-assistant", "app.kubernetes.io/component": "restore", "app.kubernetes.io/part-of": "hakube", "app.kubernetes.io/managed-by": "hakube"}},
		Spec: batchv1.JobSpec{
			BackoffLimit: new(int32),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy:                corev1.RestartPolicyNever,
				AutomountServiceAccountToken: &no,
				SecurityContext:              &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
				Containers: []corev1.Container{{
					Name: "restore-postgresql", Image: img, ImagePullPolicy: corev1.PullIfNotPresent,
					Command: []string{"sh", "-c", PGRestoreScript},
					Env: []corev1.EnvVar{
						{Name: "PGHOST", Value: "home-assistant-postgresql." + cfg.Namespace + ".svc"},
						{Name: "PGUSER", Value: "homeassistant"}, {Name: "PGDATABASE", Value: "homeassistant"},
						{Name: "PGPASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
							LocalObjectReference: corev1.LocalObjectReference{Name: "home-assistant-postgresql"}, Key: "password"}}},
						{Name: "DUMP", Value: "/backups/" + sub + "/homeassistant.dump"},
						{Name: "ROWS", Value: "/backups/" + sub + "/rows.txt"},
					},
					SecurityContext: &corev1.SecurityContext{RunAsUser: &uid, RunAsNonRoot: &yes, AllowPrivilegeEscalation: &no,
						Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
					VolumeMounts: []corev1.VolumeMount{{Name: "backups", MountPath: "/backups", ReadOnly: true}},
				}},
				Volumes: []corev1.Volume{{Name: "backups", VolumeSource: corev1.VolumeSource{
					PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "home-assistant-backups-0"}}}},
			}},
		},
	}
	if _, err := c.Kube.Jobs.Create(ctx, cfg.Namespace, job); err != nil {
		return fmt.Errorf("start the database restore: %w", err)
	}
	rep.emit(LevelWait, "restore", "job/"+name, "restoring the PostgreSQL database", "")
	if err := followJob(ctx, c, rep, cfg.Namespace, name, timeout, "restore"); err != nil {
		return err
	}
	rep.emit(LevelDone, "restore", "job/"+name, "database restored; every table has the rows of the backup", "")
	return nil
}

// BackupBeforeUpgrade is what 'upgrade' runs after showing its plan and
// before applying it, unless --no-backup: a backup through the CronJob's
// job, followed to the end. A failed backup stops the upgrade before it
// changes anything.
func BackupBeforeUpgrade(ctx context.Context, c *Clients, rep Reporter, namespace string, timeout time.Duration) (*BackupNowResult, error) {
	res, err := BackupNow(ctx, c, rep, namespace, timeout)
	if err != nil {
		return res, fmt.Errorf("the backup before the upgrade failed, so nothing was changed: %w (fix it, or pass --no-backup to upgrade without one)", err)
	}
	return res, nil
}
