package config

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Marshal returns c as a flags file: every key, in the documented order, so
// that a saved effective configuration reloads to the same Config.
func (c *Config) Marshal() []byte {
	root := &yaml.Node{Kind: yaml.MappingNode}
	for _, f := range fields {
		var v yaml.Node
		if err := v.Encode(f.get(c)); err != nil {
			panic(fmt.Sprintf("encode %s: %v", f.key, err)) // only plain values: cannot fail
		}
		if f.kind == kindList {
			v.Style = yaml.FlowStyle
		}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: f.key}, &v)
	}
	var b bytes.Buffer
	b.WriteString("# hakube effective configuration: keys are the long flag names.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		panic(fmt.Sprintf("encode config: %v", err))
	}
	return b.Bytes()
}

// Unmarshal reads a saved effective configuration (as written by Marshal)
// strictly and validates it.
func Unmarshal(name string, data []byte) (Config, error) {
	set, problems := ParseFile(name, data)
	if len(problems) > 0 {
		return Config{}, &Error{Problems: problems}
	}
	res, err := resolve(nil, set, nil, &Settings{})
	if err != nil {
		return Config{}, err
	}
	return res.Config, nil
}

// ReadDatabaseURL reads the recorder URL for database: external from path.
// The URL is a secret: it is never echoed in errors.
func ReadDatabaseURL(path string) (string, error) {
	fi, err := os.Stat(path)
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", path)
	}
	if err != nil {
		return "", fmt.Errorf("database-url-file: %w: create it with the recorder URL (postgresql://user:password@host:5432/db or mysql://user:password@host/db?charset=utf8mb4), mode 0600", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("database-url-file: %s is readable by other users (mode %04o): run 'chmod 600 %s'", path, fi.Mode().Perm(), path)
	}
	data, err := ReadSmallFile(path, 4<<10)
	if err != nil {
		return "", fmt.Errorf("database-url-file: %w", err)
	}
	raw := strings.TrimSpace(string(data))
	if raw == "" || strings.ContainsAny(raw, "\n\r") {
		return "", fmt.Errorf("database-url-file: %s must hold exactly one line: the recorder URL", path)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("database-url-file: %s does not hold a URL: write it as postgresql://user:password@host:5432/db", path)
	}
	switch u.Scheme {
	case "postgresql", "postgres", "mysql", "mysql+pymysql", "mariadb":
	default:
		return "", fmt.Errorf("database-url-file: %s: scheme %q is not supported: use postgresql:// or mysql://", path, u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("database-url-file: %s: the URL has no host", path)
	}
	return raw, nil
}
