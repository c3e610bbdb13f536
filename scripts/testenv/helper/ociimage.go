package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
)

// imageSpec is what one OCI image is made of: a root file system (one
// layer) and the runtime settings an image config carries.
type imageSpec struct {
	Name       string
	RootFS     string
	Entrypoint []string
	Cmd        []string
	Env        []string
	User       string
	WorkingDir string
	Labels     map[string]string
}

const (
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar"
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
)

// epoch is every file's modification time in a layer, so the same tree
// gives the same digest.
var epoch = time.Unix(0, 0).UTC()

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// ociImageCommand parses `oci-image` flags:
//
//	oci-image --out FILE --name REF --rootfs DIR [--entrypoint JSON] [--cmd JSON]
//	          [--env K=V]... [--user U] [--workdir D] [--label K=V]...
func ociImageCommand(args []string) error {
	fset := flag.NewFlagSet("oci-image", flag.ContinueOnError)
	var spec imageSpec
	var out, entrypoint, cmd string
	var env, labels multi
	fset.StringVar(&out, "out", "", "archive to write (an OCI image layout as one tar)")
	fset.StringVar(&spec.Name, "name", "", "image reference, e.g. docker.io/library/busybox:1")
	fset.StringVar(&spec.RootFS, "rootfs", "", "directory holding the image's root file system")
	fset.StringVar(&entrypoint, "entrypoint", "", "entrypoint as a JSON array")
	fset.StringVar(&cmd, "cmd", "", "command as a JSON array")
	fset.Var(&env, "env", "KEY=VALUE environment variable (repeatable)")
	fset.Var(&labels, "label", "KEY=VALUE image label (repeatable)")
	fset.StringVar(&spec.User, "user", "", "user the image runs as (uid[:gid])")
	fset.StringVar(&spec.WorkingDir, "workdir", "", "working directory")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if out == "" || spec.Name == "" || spec.RootFS == "" {
		return errors.New("oci-image: --out, --name and --rootfs are required")
	}
	for flagName, s := range map[string]string{"--entrypoint": entrypoint, "--cmd": cmd} {
		if s == "" {
			continue
		}
		var v []string
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return fmt.Errorf("oci-image: %s %q is not a JSON array of strings: %w", flagName, s, err)
		}
		if flagName == "--entrypoint" {
			spec.Entrypoint = v
		} else {
			spec.Cmd = v
		}
	}
	spec.Env = env
	if len(labels) > 0 {
		spec.Labels = map[string]string{}
		for _, l := range labels {
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				return fmt.Errorf("oci-image: --label %q is not KEY=VALUE", l)
			}
			spec.Labels[k] = v
		}
	}
	return writeImage(out, spec)
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// writeImage writes spec as an OCI image layout packed in one tar at out,
// which `ctr images import` reads; the index names the image with both the
// containerd and the OCI annotation. The same inputs give the same bytes.
func writeImage(out string, spec imageSpec) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".layer-*.tar")
	if err != nil {
		return fmt.Errorf("create layer file: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	if err := writeLayer(io.MultiWriter(tmp, h), spec.RootFS); err != nil {
		return fmt.Errorf("pack %s: %w", spec.RootFS, err)
	}
	layerSize, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	layerDigest := digestOf(h)

	type imageConfig struct {
		Env        []string          `json:"Env,omitempty"`
		Entrypoint []string          `json:"Entrypoint,omitempty"`
		Cmd        []string          `json:"Cmd,omitempty"`
		User       string            `json:"User,omitempty"`
		WorkingDir string            `json:"WorkingDir,omitempty"`
		Labels     map[string]string `json:"Labels,omitempty"`
	}
	cfg, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      epoch.Format(time.RFC3339),
		"config": imageConfig{Env: spec.Env, Entrypoint: spec.Entrypoint, Cmd: spec.Cmd,
			User: spec.User, WorkingDir: spec.WorkingDir, Labels: spec.Labels},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{layerDigest}},
		"history": []map[string]string{{"created": epoch.Format(time.RFC3339), "created_by": "scripts/testenv oci-image"}},
	})
	if err != nil {
		return err
	}
	cfgDesc := blobDesc(mediaConfig, cfg)
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaManifest,
		"config":        cfgDesc,
		"layers":        []descriptor{{MediaType: mediaLayer, Digest: layerDigest, Size: layerSize}},
	})
	if err != nil {
		return err
	}
	mDesc := blobDesc(mediaManifest, manifest)
	mDesc.Annotations = map[string]string{
		"io.containerd.image.name":          spec.Name,
		"org.opencontainers.image.ref.name": spec.Name,
	}
	mDesc.Platform = &platform{Architecture: runtime.GOARCH, OS: "linux"}
	index, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mediaIndex, "manifests": []descriptor{mDesc}})
	if err != nil {
		return err
	}

	f, err := os.CreateTemp(filepath.Dir(out), ".image-*.tar")
	if err != nil {
		return fmt.Errorf("create image archive: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	tw := tar.NewWriter(f)
	addBytes := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	if err := addBytes("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := addBytes("index.json", index); err != nil {
		return err
	}
	if err := addBytes(blobPath(cfgDesc.Digest), cfg); err != nil {
		return err
	}
	if err := addBytes(blobPath(mDesc.Digest), manifest); err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: blobPath(layerDigest), Mode: 0o644, Size: layerSize, ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, tmp); err != nil {
		return fmt.Errorf("copy layer: %w", err)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), out)
}

func digestOf(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

func blobDesc(media string, b []byte) descriptor {
	sum := sha256.Sum256(b)
	return descriptor{MediaType: media, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(b))}
}

func blobPath(digest string) string { return "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:") }

// writeLayer writes the tree under root as a layer tar: sorted paths,
// numeric owners and modes as on disk, modification times at the epoch,
// hard links kept.
func writeLayer(w io.Writer, root string) error {
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	tw := tar.NewWriter(w)
	type inode struct{ dev, ino uint64 }
	seen := map[inode]string{}
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = epoch, time.Time{}, time.Time{}
		hdr.Uname, hdr.Gname = "", ""
		hdr.Format = tar.FormatPAX
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			if fi.Mode().IsRegular() && st.Nlink > 1 {
				key := inode{uint64(st.Dev), st.Ino}
				if first, ok := seen[key]; ok {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					seen[key] = hdr.Name
				}
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
	}
	return tw.Close()
}
