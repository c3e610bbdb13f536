// Command testenv-helper does the parts of scripts/testenv that are awkward in
// bash: it writes the certificates and kubeconfig of a throw-away control
// plane on 127.0.0.1 with Go's crypto (no openssl needed), and finds free
// loopback ports.
//
//	testenv-helper pki DIR                     CA, apiserver, admin and service-account keys
//	testenv-helper kubeconfig DIR SERVER FILE  admin kubeconfig for SERVER from DIR's certificates
//	testenv-helper free-ports N                N free TCP ports on 127.0.0.1, one per line
//	testenv-helper image-refs                  "KEY REF" per image hakube renders (manifests.Versions)
//	testenv-helper oci-image --out F --name REF --rootfs DIR [...]
//	                                           an OCI image archive of DIR, for `ctr images import`
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "testenv-helper: ERROR: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: testenv-helper pki DIR | kubeconfig DIR SERVER FILE | free-ports N | oci-image --out F --name REF --rootfs DIR")
	}
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "image-refs" && len(rest) == 0:
		return printImageRefs(stdout)
	case cmd == "oci-image":
		return ociImageCommand(rest)
	case cmd == "pki" && len(rest) == 1:
		return writePKI(rest[0])
	case cmd == "kubeconfig" && len(rest) == 3:
		return writeKubeconfig(rest[0], rest[1], rest[2])
	case cmd == "free-ports" && len(rest) == 1:
		n, err := strconv.Atoi(rest[0])
		if err != nil || n < 1 {
			return fmt.Errorf("free-ports: %q is not a positive count", rest[0])
		}
		ports, err := freePorts(n)
		if err != nil {
			return err
		}
		for _, p := range ports {
			fmt.Fprintln(stdout, p)
		}
		return nil
	default:
		return fmt.Errorf("unknown command or wrong arguments: %q", args)
	}
}
