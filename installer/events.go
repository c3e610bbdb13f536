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

// Event is one step of progress. The CLI prints events as lines or JSON
// lines; the TUI draws them. Events never carry secrets.
type Event struct {
	Time    time.Time `json:"time"`
	Level   Level     `json:"level"`
	Phase   string    `json:"phase"`
	Object  string    `json:"object,omitempty"`
	Message string    `json:"message"`
	Advice  string    `json:"advice,omitempty"`
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

func (r Reporter) emit(level Level, phase, object, msg, advice string) {
	if r == nil {
		return
	}
	r(Event{Time: time.Now().UTC(), Level: level, Phase: phase, Object: object, Message: msg, Advice: advice})
}
