// Command hakube installs a complete, secure Home Assistant stack on k3s.
package main

import (
	"os"

	"github.com/hakube/hakube/cmd/hakube/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], app.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Environ()))
}
