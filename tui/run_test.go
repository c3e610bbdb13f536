package tui

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// syncBuffer is the program's output, read while it draws.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.Strip(s.b.String())
}

// The whole program: keys as a terminal sends them (\r, \x03) into Run,
// frames out, the outcome back.
func TestRunProgram(t *testing.T) {
	for _, c := range []struct {
		name string
		keys []string // each sent once the screen shows its step
		want OutcomeKind
	}{
		{"install", []string{"This machine", "\r", "Profile", "\r", "Components", "\r", "Reaching it", "\r", "[ Install ]", "\r", "Home Assistant is ready", "\r"}, Installed},
		{"ctrl+c at the review", []string{"This machine", "\r", "Profile", "\r", "Components", "\r", "Reaching it", "\r", "[ Install ]", "\x03"}, Cancelled},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBackend(t, fixtureReport(t, "vm-no-usb", true))
			b.events = recordedEvents(t, "install-events.jsonl")
			r, w := io.Pipe()
			out := &syncBuffer{}
			done := make(chan Outcome, 1)
			go func() {
				o, err := Run(context.Background(), Options{Backend: b, Report: b.report, Now: func() time.Time { return t0 }},
					r, out, []string{"TERM=xterm-256color", "NO_COLOR=1"})
				if err != nil {
					t.Error(err)
				}
				done <- o
			}()
			for i := 0; i < len(c.keys); i += 2 {
				deadline := time.Now().Add(10 * time.Second)
				for !strings.Contains(out.String(), c.keys[i]) {
					if time.Now().After(deadline) {
						t.Fatalf("never showed %q:\n%s", c.keys[i], out.String())
					}
					time.Sleep(10 * time.Millisecond)
				}
				if _, err := w.Write([]byte(c.keys[i+1])); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case o := <-done:
				if o.Kind != c.want {
					t.Errorf("outcome %v, want %v (%q)", o.Kind, c.want, o.Message)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("the program did not end:\n%s", out.String())
			}
			w.Close()
			if strings.Contains(out.String(), "\x1b[3") {
				t.Error("colour with NO_COLOR")
			}
		})
	}
}
