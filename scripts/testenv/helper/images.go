package main

import (
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

// printImageRefs prints "KEY REF" for every image hakube renders for this
// machine's architecture, from manifests.Versions(): the names the real node's
// images must carry so the kubelet never pulls.
func printImageRefs(w io.Writer) error {
	arch := config.Arch(runtime.GOARCH)
	versions := manifests.Versions()
	for _, key := range slices.Sorted(maps.Keys(versions)) {
		ref, err := versions[key].Ref(arch)
		if err != nil {
			return fmt.Errorf("image %s: %w", key, err)
		}
		fmt.Fprintln(w, key, ref)
	}
	return nil
}
