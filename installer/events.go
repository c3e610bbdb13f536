package installer

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Level is how an event matters to the user.
type Level string

// The event levels.
const (
	LevelInfo    Level = "info"
	LevelWait    Level = "waiting"
	LevelWarning Level = "warning"
	LevelError   Level = "error"
	LevelDone    Level = "done"
)

// Phase is the step of an install (or uninstall) an event belongs to.
type Phase string

// The phases, in the order an install goes through them.
const (
	PhasePlan      Phase = "plan"      // settings loaded, hardware adjusted
	PhaseK3s       Phase = "k3s"       // installing k3s itself
	PhaseSecrets   Phase = "secrets"   // credentials generated, kept or recovered
	PhaseWrite     Phase = "write"     // manifest files written
	PhaseApply     Phase = "apply"     // k3s applying the files (Addons)
	PhaseRollout   Phase = "rollout"   // pods starting
	PhaseWait      Phase = "wait"      // the wait itself (API unreachable, …)
	PhaseDone      Phase = "done"      // Home Assistant answers
	PhaseUninstall Phase = "uninstall" // removing the stack
)

// State is where one component stands during an install.
type State string

// The component states, in order; StateFailed can follow any of them.
const (
	StateWritten  State = "written"  // its file is in k3s's manifests directory
	StateApplied  State = "applied"  // k3s applied the file (Addon checksum matches)
	StatePulling  State = "pulling"  // its image is being pulled
	StateStarting State = "starting" // containers created, not Ready yet
	StateReady    State = "ready"    // every container of it is Ready
	StateFailed   State = "failed"   // crash loop, pull error, k3s refused it
)

// Event is one step of progress. The CLI prints events as lines or JSON
// lines; the TUI draws them. Events never carry secrets.
type Event struct {
	Time    time.Time `json:"time"`
	Level   Level     `json:"level"`
	Phase   Phase     `json:"phase"`
	Object  string    `json:"object,omitempty"`
	Message string    `json:"message"`
	Advice  string    `json:"advice,omitempty"`
	// Component and State, when set, say that this component reached this
	// state (one event per change): the progress view draws one line each.
	Component string `json:"component,omitempty"`
	State     State  `json:"state,omitempty"`
}

// Reporter receives events. It must not block for long.
type Reporter func(Event)

// LineReporter prints events as readable lines, or as JSON lines.
func LineReporter(w io.Writer, jsonLines bool) Reporter {
	var mu sync.Mutex
	return func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if jsonLines {
			b, _ := json.Marshal(e) // plain struct: cannot fail
			fmt.Fprintf(w, "%s\n", b)
			return
		}
		prefix := map[Level]string{LevelInfo: "  ", LevelWait: "… ", LevelWarning: "! ", LevelError: "✗ ", LevelDone: "✓ "}[e.Level]
		obj := ""
		if e.Object != "" {
			obj = e.Object + ": "
		}
		fmt.Fprintf(w, "%s[%s] %s%s\n", prefix, e.Phase, obj, e.Message)
		if e.Advice != "" {
			fmt.Fprintf(w, "    → %s\n", e.Advice)
		}
	}
}

func (r Reporter) emit(level Level, phase Phase, object, msg, advice string) {
	if r == nil {
		return
	}
	r(Event{Time: time.Now().UTC(), Level: level, Phase: phase, Object: object, Message: msg, Advice: advice})
}

// Emit sends one event stamped now; a nil Reporter drops it.
func (r Reporter) Emit(e Event) {
	if r == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	r(e)
}

// state reports that component reached st.
func (r Reporter) state(phase Phase, component string, st State, msg string) {
	level := LevelInfo
	switch st {
	case StateReady:
		level = LevelDone
	case StateFailed:
		level = LevelError
	case StatePulling, StateStarting:
		level = LevelWait
	}
	r.Emit(Event{Level: level, Phase: phase, Object: component, Component: component, State: st, Message: msg})
}
