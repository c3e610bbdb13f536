package tui

import (
	"bytes"
	"fmt"
	"reflect"

	"go.yaml.in/yaml/v3"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
)

// AnswersFile writes a loaded configuration as a flags file that reproduces
// it unattended ('hakube install --config FILE --yes'): the profile, every
// key chosen explicitly (in the wizard or any other layer) and every value
// that differs from the profile's defaults, such as what the hardware
// decided. An explicit empty value that is the default anyway is left out.
// The file holds no secret: an external database's URL stays in its own
// file.
func AnswersFile(res *config.Result, r *hwdetect.Report) ([]byte, error) {
	eff, problems := config.ParseFile("effective", res.Config.Marshal())
	if len(problems) > 0 {
		return nil, &config.Error{Problems: problems}
	}
	defaults := config.Defaults(res.Config.Profile)
	def, problems := config.ParseFile("defaults", defaults.Marshal())
	if len(problems) > 0 {
		return nil, &config.Error{Problems: problems}
	}
	root := &yaml.Node{Kind: yaml.MappingNode}
	for _, key := range config.Keys() {
		v, _, _ := eff.Value(key)
		d, _, _ := def.Value(key)
		same := reflect.DeepEqual(v, d)
		if key != "profile" && same && (!res.Set.IsSet(key) || isZero(v)) {
			continue
		}
		var n yaml.Node
		if err := n.Encode(v); err != nil {
			return nil, fmt.Errorf("encode %s: %w", key, err)
		}
		if _, list := v.([]string); list {
			n.Style = yaml.FlowStyle
		}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, &n)
	}
	var b bytes.Buffer
	b.WriteString("# hakube install answers, saved by the wizard.\n")
	b.WriteString("# Install with them unattended: sudo hakube install --config THIS-FILE --yes\n")
	if r != nil && r.Board.Model != "" {
		fmt.Fprintf(&b, "# Detected on: %s (%s)\n", r.Board.Model, r.Arch)
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode answers: %w", err)
	}
	return b.Bytes(), nil
}

func isZero(v any) bool {
	switch x := v.(type) {
	case string:
		return x == ""
	case bool:
		return !x
	case int:
		return x == 0
	case []string:
		return len(x) == 0
	}
	return v == nil
}
