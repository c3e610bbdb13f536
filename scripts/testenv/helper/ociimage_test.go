package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readArchive returns every file of an image archive by name.
func readArchive(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = b
	}
}

// blob returns the blob a digest names, checking that its content hashes to it.
func blob(t *testing.T, files map[string][]byte, digest string) []byte {
	t.Helper()
	b, ok := files[blobPath(digest)]
	if !ok {
		t.Fatalf("no blob %s in the archive", digest)
	}
	sum := sha256.Sum256(b)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		t.Fatalf("blob %s hashes to %s", digest, got)
	}
	return b
}

func TestOCIImage(t *testing.T) {
	root := filepath.Join(t.TempDir(), "rootfs")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "bin"), 0o755))
	must(os.WriteFile(filepath.Join(root, "bin", "tool"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.Link(filepath.Join(root, "bin", "tool"), filepath.Join(root, "bin", "tool2")))
	must(os.Symlink("tool", filepath.Join(root, "bin", "sh")))
	must(os.Mkdir(filepath.Join(root, "data"), 0o700))
	must(os.Chmod(filepath.Join(root, "data"), 0o700)) // whatever the umask
	uid := os.Getuid()
	if uid == 0 {
		uid = 70 // as root, owners are kept as on disk: check one that is not ours
		must(os.Chown(filepath.Join(root, "data"), uid, uid))
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "image.tar")
	args := []string{"--out", out, "--name", "docker.io/library/test:1", "--rootfs", root,
		"--entrypoint", `["/bin/sh","-c"]`, "--cmd", `["echo hi"]`, "--env", "PATH=/bin", "--user", "70:70",
		"--label", "org.opencontainers.image.description=test image"}
	must(run(append([]string{"oci-image"}, args...), io.Discard))
	files := readArchive(t, out)
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", files["oci-layout"])
	}
	var index struct {
		Manifests []descriptor `json:"manifests"`
	}
	must(json.Unmarshal(files["index.json"], &index))
	if len(index.Manifests) != 1 {
		t.Fatalf("index has %d manifests, want 1", len(index.Manifests))
	}
	md := index.Manifests[0]
	if md.Annotations["io.containerd.image.name"] != "docker.io/library/test:1" ||
		md.Annotations["org.opencontainers.image.ref.name"] != "docker.io/library/test:1" {
		t.Errorf("index annotations = %v: ctr would not name the image", md.Annotations)
	}
	var manifest struct {
		Config descriptor   `json:"config"`
		Layers []descriptor `json:"layers"`
	}
	must(json.Unmarshal(blob(t, files, md.Digest), &manifest))
	if len(manifest.Layers) != 1 || manifest.Layers[0].MediaType != mediaLayer {
		t.Fatalf("layers = %+v, want one uncompressed tar", manifest.Layers)
	}
	var cfg struct {
		Config struct {
			Entrypoint, Cmd, Env []string
			User                 string
			Labels               map[string]string
		} `json:"config"`
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	must(json.Unmarshal(blob(t, files, manifest.Config.Digest), &cfg))
	if strings.Join(cfg.Config.Entrypoint, " ") != "/bin/sh -c" || strings.Join(cfg.Config.Cmd, " ") != "echo hi" ||
		strings.Join(cfg.Config.Env, " ") != "PATH=/bin" || cfg.Config.User != "70:70" ||
		cfg.Config.Labels["org.opencontainers.image.description"] != "test image" {
		t.Errorf("image config = %+v", cfg.Config)
	}
	layer := blob(t, files, manifest.Layers[0].Digest)
	if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != manifest.Layers[0].Digest {
		t.Errorf("diff_ids %v do not match the uncompressed layer %s", cfg.RootFS.DiffIDs, manifest.Layers[0].Digest)
	}

	entries := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(layer))
	var order []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(err)
		entries[h.Name] = h
		order = append(order, h.Name)
		if !h.ModTime.Equal(epoch) {
			t.Errorf("%s has mtime %s, want the epoch", h.Name, h.ModTime)
		}
	}
	if got, want := strings.Join(order, " "), "bin/ bin/sh bin/tool bin/tool2 data/"; got != want {
		t.Errorf("layer entries = %q, want %q", got, want)
	}
	if h := entries["bin/sh"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "tool" {
		t.Errorf("bin/sh = %+v, want a symlink to tool", h)
	}
	if h := entries["bin/tool"]; h == nil || h.Mode&0o777 != 0o755 || h.Size == 0 {
		t.Errorf("bin/tool = %+v, want a 0755 file", h)
	}
	if h := entries["bin/tool2"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "bin/tool" {
		t.Errorf("bin/tool2 = %+v, want a hard link to bin/tool", h)
	}
	if h := entries["data/"]; h == nil || h.Mode&0o777 != 0o700 || h.Uid != uid || h.Gid != uid {
		t.Errorf("data/ = %+v, want mode 0700 owned by %d:%d", h, uid, uid)
	}

	// The same inputs give the same archive: images are cached by content.
	again := filepath.Join(dir, "again.tar")
	args[1] = again
	must(run(append([]string{"oci-image"}, args...), io.Discard))
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Error("two builds of the same tree differ")
	}
}

func TestOCIImageBadFlags(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(t.TempDir(), "x.tar")
	for _, args := range [][]string{
		{"--out", out, "--rootfs", root},
		{"--out", out, "--name", "x:1", "--rootfs", root, "--entrypoint", "/bin/sh"},
		{"--out", out, "--name", "x:1", "--rootfs", root, "--label", "nokey"},
	} {
		if err := run(append([]string{"oci-image"}, args...), io.Discard); err == nil {
			t.Errorf("oci-image %q succeeded, want an error", args)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("oci-image %q wrote %s despite the error", args, out)
		}
	}
}
