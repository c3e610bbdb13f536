package tui

import (
	"strings"
	"unicode/utf8"
)

// fieldKind is how a field takes its answer.
type fieldKind int

const (
	choiceField fieldKind = iota // one of the options
	multiField                   // any of the options
	textField                    // a line of text
)

// option is one answer a choice or multi field offers.
type option struct {
	value string
	label string
	hint  string // one line on when to pick it, or why it is off
}

// field is one question of a step. The same fields drive the terminal UI
// and the accessible prompts.
type field struct {
	id      string
	label   string
	kind    fieldKind
	options []option
	cur     int    // choice: the selected option; multi: the cursor
	checked []bool // multi
	text    string // text
	help    string // one line under the field
	// list draws the field as a vertical list: up/down change the
	// selection, tab moves to the next field.
	list bool
	// hintSelected shows only the selected option's hint.
	hintSelected bool
	// show, when set, hides the field unless it returns true.
	show func(f *form) bool
}

// form is the fields of one step.
type form struct {
	fields []*field
	focus  int
}

func (f *form) get(id string) *field {
	for _, fl := range f.fields {
		if fl.id == id {
			return fl
		}
	}
	return nil
}

// value is a choice's selected value or a text's content.
func (f *form) value(id string) string {
	fl := f.get(id)
	if fl == nil {
		return ""
	}
	switch fl.kind {
	case choiceField:
		if fl.cur >= 0 && fl.cur < len(fl.options) {
			return fl.options[fl.cur].value
		}
		return ""
	case textField:
		return strings.TrimSpace(fl.text)
	}
	return ""
}

// values is a multi field's checked values, in option order.
func (f *form) values(id string) []string {
	fl := f.get(id)
	out := []string{}
	if fl == nil {
		return out
	}
	for i, o := range fl.options {
		if fl.checked[i] {
			out = append(out, o.value)
		}
	}
	return out
}

func (f *form) visible() []*field {
	var out []*field
	for _, fl := range f.fields {
		if fl.show == nil || fl.show(f) {
			out = append(out, fl)
		}
	}
	return out
}

// focused is the field keys go to, or nil.
func (f *form) focused() *field {
	vis := f.visible()
	if len(vis) == 0 {
		return nil
	}
	f.focus = min(max(f.focus, 0), len(vis)-1)
	return vis[f.focus]
}

func (fl *field) selectValue(v string) {
	for i, o := range fl.options {
		if o.value == v {
			fl.cur = i
			return
		}
	}
}

// key applies one key press to the form. It reports whether the key was
// used.
func (f *form) key(k string, text string) bool {
	vis := f.visible()
	fl := f.focused()
	if fl == nil {
		return false
	}
	move := func(d int) bool {
		f.focus = (f.focus + d + len(vis)) % len(vis)
		return true
	}
	switch k {
	case "tab":
		return move(1)
	case "shift+tab":
		return move(-1)
	case "up", "down":
		d := 1
		if k == "up" {
			d = -1
		}
		if fl.list {
			fl.cur = (fl.cur + d + len(fl.options)) % len(fl.options)
			return true
		}
		return move(d)
	case "left", "right":
		if fl.kind == choiceField {
			d := 1
			if k == "left" {
				d = -1
			}
			fl.cur = (fl.cur + d + len(fl.options)) % len(fl.options)
			return true
		}
	case "space":
		if fl.kind == multiField {
			fl.checked[fl.cur] = !fl.checked[fl.cur]
			return true
		}
		if fl.kind == textField {
			fl.text += " "
			return true
		}
	case "backspace":
		if fl.kind == textField && fl.text != "" {
			_, n := utf8.DecodeLastRuneInString(fl.text)
			fl.text = fl.text[:len(fl.text)-n]
			return true
		}
	case "ctrl+u":
		if fl.kind == textField {
			fl.text = ""
			return true
		}
	}
	if fl.kind == textField && text != "" && !strings.ContainsAny(text, "\r\n\t") {
		fl.text += text
		return true
	}
	return false
}
