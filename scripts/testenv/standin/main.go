// Command standin is the one static program inside the test environment's
// STAND-IN images (scripts/testenv images). It is not the software whose
// image name it runs under, and says so in every answer. It picks its role
// from the name it is invoked under:
//
//	pause                               sleeps until TERM or INT (the pod sandbox image)
//	standin-http --name NAME PORT...    answers every HTTP request on each PORT with
//	                                    200 "standin-http: STAND-IN for NAME", enough for
//	                                    HTTP and TCP probes and nothing more
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, filepath.Base(os.Args[0]), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "%s: ERROR: %v\n", filepath.Base(os.Args[0]), err)
		os.Exit(1)
	}
}

func run(ctx context.Context, role string, args []string, out io.Writer) error {
	switch role {
	case "pause":
		<-ctx.Done()
		return nil
	case "standin-http":
		return serveHTTP(ctx, args, out, nil)
	}
	return fmt.Errorf("invoked as %q: call me as pause or standin-http", role)
}

// serveHTTP listens on every port given (all addresses of the pod's network
// namespace, where the kubelet's probes come from) until ctx ends. ready, if
// not nil, gets the bound addresses once listening.
func serveHTTP(ctx context.Context, args []string, out io.Writer, ready chan<- []string) error {
	fs := flag.NewFlagSet("standin-http", flag.ContinueOnError)
	name := fs.String("name", "", "the component this stands in for (shown in every answer)")
	addr := fs.String("address", "", "address to listen on (default: all of the pod's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || fs.NArg() == 0 {
		return errors.New("usage: standin-http --name NAME PORT...")
	}
	logger := log.New(out, "standin-http: ", log.LstdFlags)
	body := fmt.Sprintf("standin-http: STAND-IN for %s (answers probes only; not the real program)\n", *name)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Standin", *name)
		_, _ = io.WriteString(w, body)
	})
	var servers []*http.Server
	var bound []string
	errc := make(chan error, fs.NArg())
	for _, p := range fs.Args() {
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("port %q is not a number between 0 and 65535", p)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(*addr, p))
		if err != nil {
			return fmt.Errorf("listen on port %s: %w", p, err)
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		bound = append(bound, l.Addr().String())
		logger.Printf("STAND-IN for %s listening on %s", *name, l.Addr())
		go func() { errc <- srv.Serve(l) }()
	}
	if ready != nil {
		ready <- bound
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdown)
	}
	logger.Printf("stopped")
	return nil
}
