package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestStandinHTTP(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan []string, 1)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		done <- serveHTTP(ctx, []string{"--name", "home-assistant", "--address", "127.0.0.1", "0", "0"}, &out, ready)
	}()
	var addrs []string
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("standin-http exited: %v", err)
	}
	if len(addrs) != 2 {
		t.Fatalf("listening on %v, want two ports", addrs)
	}
	for _, a := range addrs {
		resp, err := http.Get("http://" + a + "/any/path")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "STAND-IN for home-assistant") ||
			resp.Header.Get("X-Standin") != "home-assistant" {
			t.Errorf("GET %s: %d %q %v", a, resp.StatusCode, b, resp.Header)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("standin-http after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("standin-http did not stop on cancel")
	}
}

func TestStandinRoles(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := run(ctx, "pause", nil, io.Discard); err != nil {
		t.Errorf("pause after TERM: %v", err)
	}
	if err := run(ctx, "home-assistant", nil, io.Discard); err == nil {
		t.Error("an unknown role succeeded")
	}
	for _, args := range [][]string{{"8123"}, {"--name", "x"}, {"--name", "x", "http"}} {
		if err := run(ctx, "standin-http", args, io.Discard); err == nil {
			t.Errorf("standin-http %q succeeded", args)
		}
	}
}
