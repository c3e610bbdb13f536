// Package k3sdeploystandin is a STAND-IN for the k3s deploy controller
// (k3s pkg/deploy), used only by hakube's integration test environment
// (scripts/testenv). It is not k3s.
//
// k3s cannot be built here, so this package re-implements, from the facts in
// docs/reference/k3s.md, the behaviour hakube relies on when it writes
// manifests into <data-dir>/server/manifests:
//
//   - the directory is polled (not watched) every poll interval and walked
//     recursively; files ending in .yaml, .yml or .json (any case) are read;
//     dotfiles are ignored; "foo.yaml.skip" anywhere makes every "foo.yaml"
//     ignored;
//   - each file becomes an Addon kube-system/<file name up to the first '.'>
//     with spec.source set to the path; the Addon is created before the file
//     is read, so it exists (with an empty checksum) for a file that fails;
//   - the first pass applies every file; later passes re-read a file only when
//     its mtime changed and re-apply it only when its sha256 differs from the
//     Addon's spec.checksum; while any file fails, every pass applies
//     everything again;
//   - applied objects carry wrangler's objectset annotations and hash label
//     naming the Addon as owner; objects removed from a file are pruned on the
//     next successful apply of that file, except objects labelled
//     objectset.rio.cattle.io/prune: "false"; deleting a file deletes nothing;
//   - after a successful apply, spec.checksum and the addon.k3s.cattle.io/gvks
//     annotation are set;
//   - events on the Addon come from component "deploy": ApplyingManifest,
//     AppliedManifest, ReadManifestFailed, ParseManifestFailed,
//     ValidateManifestFailed and ApplyManifestFailed.
//
// Objects are applied with server-side apply under a fixed field manager
// instead of wrangler's client-side three-way merge, so re-applying an
// unchanged object leaves its resourceVersion alone. A test passing against
// this stand-in proves hakube's side of the contract, not k3s's behaviour;
// report results accordingly.
package k3sdeploystandin
