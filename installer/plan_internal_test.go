package installer

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLineDiff(t *testing.T) {
	a := strings.Split("a\nb\nc\nd", "\n")
	b := strings.Split("a\nc\nd\ne", "\n")
	added, removed := lineDiff(a, b)
	assert.Equal(t, []string{"e"}, added)
	assert.Equal(t, []string{"b"}, removed)

	added, removed = lineDiff(nil, []string{"x", "y"})
	assert.Equal(t, []string{"x", "y"}, added)
	assert.Empty(t, removed)

	added, removed = lineDiff([]string{"x", "x", "y"}, []string{"x", "y", "y"})
	assert.Equal(t, []string{"y"}, added, "repeated lines are counted, not merged")
	assert.Equal(t, []string{"x"}, removed)
}

func TestImageChangesPairByRepository(t *testing.T) {
	removed := []string{"          image: eclipse-mosquitto:2.0.20", "        - image: nodered/node-red:4.0.8", "  replicas: 1"}
	added := []string{"          image: eclipse-mosquitto:2.0.21", "        - image: \"nodered/node-red:4.1.0\"", "  replicas: 2"}
	assert.Equal(t, []string{
		"eclipse-mosquitto:2.0.20 -> eclipse-mosquitto:2.0.21",
		"nodered/node-red:4.0.8 -> nodered/node-red:4.1.0",
	}, imageChanges(added, removed))
	assert.Empty(t, imageChanges([]string{"image: a:1"}, []string{"image: b:1"}), "different repositories do not pair")
}
