package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Source says where a setting came from, so that a problem can name it.
type Source struct {
	File string // flags file path, when from a file
	Line int    // line in File
	Env  string // HAKUBE_* variable name, when from the environment
	Flag string // flag name, when from the command line
	// Layer names any other layer, e.g. "wizard" for the terminal UI's
	// answers; Step, when set, says where in that layer ("Radio").
	Layer string
	Step  string
}

// WizardSource is the origin of an answer given in the terminal UI's step.
func WizardSource(step string) Source { return Source{Layer: "wizard", Step: step} }

// rank orders sources as the layers apply: file, answers, env, flags.
func (s Source) rank() int {
	switch {
	case s.File != "":
		return 1
	case s.Layer != "":
		return 2
	case s.Env != "":
		return 3
	case s.Flag != "":
		return 4
	}
	return 5
}

func (s Source) String() string {
	switch {
	case s.Layer != "" && s.Step != "":
		return s.Layer + " (" + s.Step + ")"
	case s.Layer != "":
		return s.Layer
	case s.File != "" && s.Line > 0:
		return fmt.Sprintf("%s:%d", s.File, s.Line)
	case s.File != "":
		return s.File
	case s.Env != "":
		return "environment " + s.Env
	case s.Flag != "":
		return "flag --" + s.Flag
	}
	return "default"
}

// Problem is one thing wrong with the configuration.
type Problem struct {
	Source Source
	Key    string
	Msg    string
}

func (p Problem) String() string {
	src := p.Source.String()
	switch {
	case p.Key == "" || p.Source.Flag != "" || p.Source.Env != "":
		return src + ": " + p.Msg
	case src == "default":
		return p.Key + ": " + p.Msg
	}
	return fmt.Sprintf("%s: %s: %s", src, p.Key, p.Msg)
}

// Error is every problem found at once.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("invalid configuration: ")
		b.WriteString(e.Problems[0].String())
		return b.String()
	}
	fmt.Fprintf(&b, "invalid configuration (%d problems):", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// setting is one explicitly given value with its origin.
type setting struct {
	value any
	src   Source
}

// Settings are explicit values by key, each with its origin: one layer of
// configuration (a flags file, the wizard's answers, the environment, the
// flags), or several merged. The zero value is empty and ready to use.
type Settings struct{ m map[string]setting }

// IsSet reports whether key was given explicitly by the user.
func (s *Settings) IsSet(key string) bool { _, ok := s.get(key); return ok }

func (s *Settings) get(key string) (setting, bool) {
	if s == nil || s.m == nil {
		return setting{}, false
	}
	v, ok := s.m[key]
	return v, ok
}

func (s *Settings) put(key string, v setting) {
	if s.m == nil {
		s.m = map[string]setting{}
	}
	s.m[key] = v
}

// Keys lists the keys set, in the documented order.
func (s *Settings) Keys() []string {
	var out []string
	for _, f := range fields {
		if s.IsSet(f.key) {
			out = append(out, f.key)
		}
	}
	return out
}

// Value returns the value set for key (string, int, bool or []string) and
// where it came from.
func (s *Settings) Value(key string) (any, Source, bool) {
	v, ok := s.get(key)
	if !ok {
		return nil, Source{}, false
	}
	if l, isList := v.value.([]string); isList {
		return slices.Clone(l), v.src, true
	}
	return v.value, v.src, true
}

// Set records value for key from src, converted and checked as the
// environment's and the flags' values are: a string is parsed by the key's
// kind ("30200" for an int key, "mqtt,nodered" for a list); an int, a bool
// or a []string is taken as it is when it fits the key. A wrong key or type
// is an *Error naming src and key. Values are validated with the rest of
// the configuration when it is loaded.
func (s *Settings) Set(key string, value any, src Source) error {
	f := fieldByKey(key)
	if f == nil {
		return &Error{Problems: []Problem{{Source: src, Key: key, Msg: unknownKeyMsg(key)}}}
	}
	var v any
	var err error
	switch x := value.(type) {
	case string:
		v, err = fromString(f, x)
	case int:
		if f.kind != kindInt {
			err = fmt.Errorf("must be %s, got the number %d", f.kind, x)
		}
		v = x
	case bool:
		switch f.kind {
		case kindBool:
			v = x
		case kindAutoBool:
			v = strconv.FormatBool(x)
		default:
			err = fmt.Errorf("must be %s, got %t", f.kind, x)
		}
	case []string:
		if f.kind != kindList {
			err = fmt.Errorf("must be %s, got a list", f.kind)
		}
		v = slices.Clone(x)
	default:
		err = fmt.Errorf("must be %s", f.kind)
	}
	if err != nil {
		return &Error{Problems: []Problem{{Source: src, Key: key, Msg: err.Error()}}}
	}
	s.put(key, setting{value: v, src: src})
	return nil
}

// Unset removes key from this layer.
func (s *Settings) Unset(key string) {
	if s != nil && s.m != nil {
		delete(s.m, key)
	}
}

// merge copies every setting of src over s.
func (s *Settings) merge(src Settings) {
	for k, v := range src.m {
		s.put(k, v)
	}
}

// Adjuster changes defaults (for example from the detected hardware) before
// the user's settings apply. isSet tells which keys the user chose; an
// adjuster must leave those alone. It returns notes worth showing, or an
// error when the user must decide (for example between two radios).
type Adjuster func(c *Config, isSet func(key string) bool) ([]string, error)

// Sources are the layers Load merges, lowest precedence first.
type Sources struct {
	// Base, when set, replaces the profile defaults: a saved effective
	// configuration from an earlier install.
	Base *Config
	// File is the flags file path; FileData its content (read from File
	// when nil).
	File     string
	FileData []byte
	// Answers is a layer between the flags file and the environment: the
	// wizard's answers, each with a WizardSource.
	Answers Settings
	// Environ is the process environment (os.Environ()); only HAKUBE_*
	// variables are read.
	Environ []string
	// Flags is the command line; only flags the user changed count.
	Flags *pflag.FlagSet
	// Adjust runs after the profile defaults and before the user's values.
	Adjust Adjuster
}

// Result is a loaded, valid configuration and what is worth telling about it.
type Result struct {
	Config Config
	// Set holds the keys the user chose explicitly, with their origin.
	Set Settings
	// Notes are non-fatal remarks (hardware choices, advice).
	Notes []string
}

// reservedEnv are HAKUBE_* variables that are not configuration keys.
var reservedEnv = []string{
	"HAKUBE_CONFIG", "HAKUBE_DATA_DIR", "HAKUBE_KUBECONFIG", "HAKUBE_OUTPUT",
	"HAKUBE_VERSION", "HAKUBE_DOWNLOAD_URL", "HAKUBE_SKIP_INSTALL", "HAKUBE_BIN_DIR",
	"HAKUBE_STATE_DIR", "HAKUBE_K3S_INSTALL_URL", "HAKUBE_NPM_PREFIX",
}

// Load merges defaults < flags file < answers < HAKUBE_* environment <
// flags and validates the result. A returned *Error lists every problem at
// once, in the order of the layers and, within a file, of its lines.
func Load(src Sources) (Result, error) {
	var problems []Problem
	var merged Settings
	if src.File != "" {
		data := src.FileData
		if data == nil {
			var err error
			data, err = ReadFlagsFile(src.File)
			if err != nil {
				return Result{}, err
			}
		}
		s, p := ParseFile(src.File, data)
		problems = append(problems, p...)
		merged.merge(s)
	}
	merged.merge(src.Answers)
	s, p := ParseEnv(src.Environ)
	problems = append(problems, p...)
	merged.merge(s)
	if src.Flags != nil {
		s, p := ParseFlags(src.Flags)
		problems = append(problems, p...)
		merged.merge(s)
	}
	res, err := Resolve(src.Base, merged, src.Adjust)
	if len(problems) == 0 {
		return res, err
	}
	// Report what could not be read together with what is wrong with the
	// rest, but not the knock-on problems of a key that was dropped.
	var cerr *Error
	if errors.As(err, &cerr) {
		bad := map[string]bool{}
		for _, p := range problems {
			bad[p.Key] = true
		}
		for _, p := range cerr.Problems {
			if !bad[p.Key] {
				problems = append(problems, p)
			}
		}
	}
	return Result{}, newError(problems)
}

// newError sorts problems by layer and line; the order is stable otherwise.
func newError(problems []Problem) *Error {
	slices.SortStableFunc(problems, func(a, b Problem) int {
		if r := a.Source.rank() - b.Source.rank(); r != 0 {
			return r
		}
		if a.Source.File != b.Source.File {
			return strings.Compare(a.Source.File, b.Source.File)
		}
		return a.Source.Line - b.Source.Line
	})
	return &Error{Problems: problems}
}

// MaxFlagsFileBytes caps a flags file: a real one is a few hundred bytes.
const MaxFlagsFileBytes = 64 << 10

// ReadFlagsFile reads a flags file: a regular file of at most
// MaxFlagsFileBytes (never a device or a pipe, which could hang or exhaust
// memory).
func ReadFlagsFile(path string) ([]byte, error) {
	data, err := ReadSmallFile(path, MaxFlagsFileBytes)
	if err != nil {
		return nil, &Error{Problems: []Problem{{Source: Source{File: path},
			Msg: fmt.Sprintf("cannot read the flags file: %v (check the path given to --config)", err)}}}
	}
	return data, nil
}

// ReadSmallFile reads path when it is a regular file (after symlinks) of at
// most limit bytes.
func ReadSmallFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed", path, fi.Size(), limit)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is more than the %d bytes allowed", path, limit)
	}
	return data, nil
}

// Resolve builds a Config from base (or the chosen profile's defaults), the
// adjuster and the explicit settings, then validates it.
func Resolve(base *Config, set Settings, adjust Adjuster) (Result, error) {
	return resolve(base, set, adjust, &set)
}

// resolve is Resolve with the settings whose origin validation may blame
// for a combination (a saved effective configuration sets every key, so
// none of them is a user's explicit choice).
func resolve(base *Config, set Settings, adjust Adjuster, chosen *Settings) (Result, error) {
	var c Config
	if base != nil {
		c = *base
		c.Components = slices.Clone(base.Components)
		if s, ok := set.get("profile"); ok && Profile(s.value.(string)) != base.Profile {
			c = Defaults(Profile(s.value.(string)))
		}
	} else {
		p := ProfileEdge
		if s, ok := set.get("profile"); ok {
			p = Profile(s.value.(string))
		}
		c = Defaults(p)
	}
	var notes []string
	if adjust != nil && base == nil {
		var err error
		if notes, err = adjust(&c, set.IsSet); err != nil {
			return Result{}, err
		}
	}
	for _, f := range fields {
		if s, ok := set.get(f.key); ok {
			f.set(&c, s.value)
		}
	}
	// Derived defaults: a Zigbee device implies Zigbee2MQTT unless the
	// components were chosen explicitly; production serves TLS when it has
	// a host name.
	if c.ZigbeeDevice != "" && !set.IsSet("components") && !c.Has(Zigbee2MQTT) {
		c.Components = append(c.Components, Zigbee2MQTT)
		if !c.Has(MQTT) {
			c.Components = append(c.Components, MQTT)
		}
	}
	if c.Arch == ArchARM && !set.IsSet("components") && c.Has(ESPHome) {
		c.Components = slices.DeleteFunc(c.Components, func(x Component) bool { return x == ESPHome })
		notes = append(notes, "esphome left out: it publishes no image for 32-bit ARM")
	}
	if c.Profile == ProfileProduction && c.IngressHost != "" && !set.IsSet("ingress-tls") {
		c.IngressTLS = true
	}
	// Behind a TLS Ingress, Home Assistant is not exposed in plain HTTP too.
	if c.IngressTLS && !set.IsSet("service-type") {
		c.ServiceType = ClusterIP
	}
	// Nor are the dashboards (dashboards-ingress puts them behind the same TLS).
	if c.IngressTLS {
		for key, port := range map[string]*int{"nodered-node-port": &c.NodeREDNodePort,
			"esphome-node-port": &c.ESPHomeNodePort, "zigbee2mqtt-node-port": &c.Zigbee2MQTTNodePort} {
			if !set.IsSet(key) {
				*port = 0
			}
		}
	}
	if problems := validate(&c, chosen); len(problems) > 0 {
		return Result{}, newError(problems)
	}
	c.Components = sortComponents(c.Components)
	return Result{Config: c, Set: set, Notes: notes}, nil
}

// sortComponents puts known components in their canonical order and keeps
// unknown names (for Validate to report) at the end.
func sortComponents(in []Component) []Component {
	var out []Component
	for _, k := range components {
		if slices.Contains(in, k) {
			out = append(out, k)
		}
	}
	for _, c := range in {
		if !slices.Contains(components, c) {
			out = append(out, c)
		}
	}
	return out
}

// ParseFile decodes a flags file strictly: every key must be known and of the
// right type. Values are not yet validated.
func ParseFile(name string, data []byte) (Settings, []Problem) {
	var out Settings
	fileSrc := Source{File: name}
	if len(bytes.TrimSpace(data)) == 0 {
		return out, nil
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return out, nil // only comments
	} else if err != nil {
		return Settings{}, []Problem{yamlProblem(fileSrc, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return Settings{}, []Problem{{Source: Source{File: name, Line: extra.Line}, Msg: "more than one YAML document: a flags file holds one mapping of keys to values"}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return out, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return out, nil
	}
	if root.Kind != yaml.MappingNode {
		return Settings{}, []Problem{{Source: Source{File: name, Line: root.Line},
			Msg: "a flags file is a YAML mapping of keys to values, like \"profile: edge\""}}
	}
	var problems []Problem
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		src := Source{File: name, Line: k.Line}
		key := k.Value
		f := fieldByKey(key)
		if f == nil {
			problems = append(problems, Problem{Source: src, Key: key, Msg: unknownKeyMsg(key)})
			continue
		}
		if prev, dup := out.get(key); dup {
			problems = append(problems, Problem{Source: src, Key: key,
				Msg: fmt.Sprintf("given twice (first at line %d): keep one", prev.src.Line)})
			continue
		}
		val, err := fromNode(f, v)
		if err != nil {
			problems = append(problems, Problem{Source: src, Key: key, Msg: err.Error()})
			continue
		}
		out.put(key, setting{value: val, src: src})
	}
	return out, problems
}

func yamlProblem(src Source, err error) Problem {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	// yaml.v3 says "line N: …"; move the line into the source.
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ":"); ok {
			if line, err := strconv.Atoi(n); err == nil {
				src.Line = line
				msg = strings.TrimSpace(after)
			}
		}
	}
	return Problem{Source: src, Msg: "not valid YAML: " + msg}
}

func unknownKeyMsg(key string) string {
	msg := "unknown key"
	if best := closest(key); best != "" {
		msg += fmt.Sprintf("; did you mean %q?", best)
	}
	return msg + " (keys are the long flag names: run 'hakube install --help' to list them)"
}

// closest returns the known key nearest to key by edit distance, if near.
func closest(key string) string {
	best, bestD := "", 4
	for _, f := range fields {
		if d := editDistance(key, f.key); d < bestD {
			best, bestD = f.key, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func fromNode(f *field, n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	wrong := func() error {
		got := "a " + strings.TrimPrefix(n.Tag, "!!")
		switch {
		case n.Kind == yaml.SequenceNode:
			got = "a list"
		case n.Kind == yaml.MappingNode:
			got = "a mapping"
		case n.Tag == "!!null":
			got = "no value"
		case n.Tag == "!!str":
			got = fmt.Sprintf("the string %q", n.Value)
		case n.Tag == "!!int" || n.Tag == "!!float" || n.Tag == "!!bool":
			got = fmt.Sprintf("%s %s", strings.TrimPrefix(n.Tag, "!!"), n.Value)
		}
		return fmt.Errorf("must be %s, got %s", f.kind, got)
	}
	switch f.kind {
	case kindString:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			return nil, wrong()
		}
		return n.Value, nil
	case kindInt:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			return nil, wrong()
		}
		v, err := strconv.Atoi(n.Value)
		if err != nil {
			return nil, fmt.Errorf("must be a whole number in decimal, got %s", n.Value)
		}
		return v, nil
	case kindBool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			return nil, wrong()
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, wrong()
		}
		return b, nil
	case kindAutoBool:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!bool" && n.Tag != "!!str") {
			return nil, wrong()
		}
		if n.Tag == "!!bool" {
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, wrong()
			}
			return strconv.FormatBool(b), nil
		}
		return n.Value, nil
	case kindList:
		if n.Kind != yaml.SequenceNode {
			return nil, wrong()
		}
		out := []string{}
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode || item.Tag != "!!str" {
				return nil, fmt.Errorf("line %d: every item must be a name (%s)", item.Line, strings.Join(f.allowed, ", "))
			}
			out = append(out, item.Value)
		}
		return out, nil
	}
	return nil, errors.New("unsupported key type")
}

// fromString converts an environment or flag value.
func fromString(f *field, s string) (any, error) {
	switch f.kind {
	case kindInt:
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("must be a whole number, got %q", s)
		}
		return v, nil
	case kindBool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("must be true or false, got %q", s)
		}
		return b, nil
	case kindAutoBool:
		v := strings.ToLower(strings.TrimSpace(s))
		if b, err := strconv.ParseBool(v); err == nil {
			return strconv.FormatBool(b), nil
		}
		return v, nil
	case kindList:
		out := []string{}
		for _, part := range strings.Split(s, ",") {
			if p := strings.TrimSpace(part); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	}
	return s, nil
}

// ParseEnv reads HAKUBE_<KEY> variables (key upper-cased, '-' as '_').
// An unknown HAKUBE_ variable is a problem: it is most likely a typo.
func ParseEnv(environ []string) (Settings, []Problem) {
	var out Settings
	var problems []Problem
	byEnv := map[string]*field{}
	for _, f := range fields {
		byEnv[f.envName()] = f
	}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "HAKUBE_") {
			continue
		}
		src := Source{Env: name}
		f := byEnv[name]
		if f == nil {
			if slices.Contains(reservedEnv, name) || strings.HasPrefix(name, "HAKUBE_TEST") {
				continue
			}
			key := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, "HAKUBE_"), "_", "-"))
			msg := "unknown variable"
			if best := closest(key); best != "" {
				msg += fmt.Sprintf("; did you mean HAKUBE_%s?", strings.ToUpper(strings.ReplaceAll(best, "-", "_")))
			}
			problems = append(problems, Problem{Source: src, Msg: msg + " (unset it, or use a HAKUBE_<KEY> name of a flags-file key)"})
			continue
		}
		v, err := fromString(f, val)
		if err != nil {
			problems = append(problems, Problem{Source: src, Key: f.key, Msg: err.Error()})
			continue
		}
		out.put(f.key, setting{value: v, src: src})
	}
	return out, problems
}

// AddFlags registers one flag per key on fs, with the defaults of the edge
// profile shown in help. Only flags the user sets override other layers.
func AddFlags(fs *pflag.FlagSet) {
	d := Defaults(ProfileEdge)
	for _, f := range fields {
		switch f.kind {
		case kindInt:
			fs.Int(f.key, f.get(&d).(int), f.describe())
		case kindBool:
			fs.Bool(f.key, f.get(&d).(bool), f.describe())
		case kindList:
			fs.StringSlice(f.key, f.get(&d).([]string), f.describe())
		default:
			fs.String(f.key, fmt.Sprint(f.get(&d)), f.describe())
		}
	}
}

// ParseFlags reads the configuration flags the user changed on fs.
func ParseFlags(fs *pflag.FlagSet) (Settings, []Problem) {
	var out Settings
	var problems []Problem
	fs.Visit(func(fl *pflag.Flag) {
		f := fieldByKey(fl.Name)
		if f == nil {
			return
		}
		src := Source{Flag: fl.Name}
		var v any
		var err error
		if f.kind == kindList {
			v, err = fs.GetStringSlice(fl.Name)
		} else {
			v, err = fromString(f, fl.Value.String())
		}
		if err != nil {
			problems = append(problems, Problem{Source: src, Key: f.key, Msg: err.Error()})
			return
		}
		out.put(f.key, setting{value: v, src: src})
	})
	return out, problems
}

// Source tells where the setting came from.
func (s setting) Source() Source { return s.src }
