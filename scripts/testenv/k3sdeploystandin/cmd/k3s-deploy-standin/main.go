// Command k3s-deploy-standin runs a STAND-IN for k3s's deploy controller (see
// package k3sdeploystandin): it polls <data-dir>/server/manifests and applies
// the files it finds as k3s would, tracking each with an Addon. It exists for
// hakube's integration tests only; it is not k3s.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/hakube/hakube/scripts/testenv/k3sdeploystandin"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("k3s-deploy-standin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster to apply to")
	dataDir := fs.String("data-dir", "", "directory playing k3s's --data-dir; manifests are read from <data-dir>/server/manifests")
	interval := fs.Duration("poll-interval", k3sdeploystandin.DefaultPollInterval, "time between passes over the manifests directory (k3s: 15s)")
	nodeName := fs.String("node-name", os.Getenv("NODE_NAME"), "host reported as the source of events")
	verbose := fs.Bool("v", false, "log unchanged files too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" {
		return errors.New("--data-dir is required")
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig %s: %w", *kubeconfig, err)
	}
	ctrl, err := k3sdeploystandin.New(cfg, k3sdeploystandin.Options{
		ManifestsDir: filepath.Join(*dataDir, "server", "manifests"),
		PollInterval: *interval,
		NodeName:     *nodeName,
		Logger:       logger,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger.Info("k3s deploy controller STAND-IN starting (not k3s)")
	return ctrl.Run(ctx)
}
