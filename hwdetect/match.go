package hwdetect

import (
	"fmt"
	"slices"
	"strings"
)

// device is what identifies one serial port to the matcher.
type device struct {
	vid, pid     string
	manufacturer string
	product      string
	iface        string // "00", or "" when unknown
	// names are the port's by-id names: the links found and the name udev
	// gives from the strings, so a missing /dev/serial still matches.
	names []string
}

// Evidence weights: an id alone is weak when shared, strings are stronger,
// and a product string (the most specific) wins over the manufacturer.
const (
	scoreSharedID = 1
	scoreOwnID    = 10
	scoreManuf    = 2
	scoreByID     = 3
	scoreProduct  = 4
)

type verdict struct {
	row        *Matcher
	on         []string
	reason     string
	candidates []string
}

// match finds the table row for dev.
func match(dev device) verdict {
	id := dev.vid + ":" + dev.pid
	_, shared := Shared[id]
	type hit struct {
		row   *Matcher
		score int
		on    []string
	}
	var hits []hit
	var idRows []string
	for i := range table {
		row := &table[i]
		idHit := slices.Contains(row.IDs, id)
		if !idHit && len(row.IDs) > 0 {
			continue
		}
		if idHit {
			idRows = appendNew(idRows, row.Name)
		}
		if row.Interface != "" && dev.iface != "" && row.Interface != dev.iface {
			continue
		}
		if anyPattern(dev.names, row.NotByID) {
			continue
		}
		manuf, manufOK := matchString(dev.manufacturer, row.Manufacturer)
		prod, prodOK := matchString(dev.product, row.Product)
		if !manufOK || !prodOK {
			continue // the device says it is something else
		}
		score := 0
		var on []string
		if idHit {
			score = scoreOwnID
			if shared {
				score = scoreSharedID
			}
			on = append(on, "ids")
		}
		strong := false
		if manuf {
			score += scoreManuf
			on = append(on, "manufacturer")
			strong = true
		}
		if prod {
			score += scoreProduct
			on = append(on, "product")
			strong = true
		}
		if anyPattern(dev.names, row.ByID) {
			score += scoreByID
			on = append(on, "by-id")
			strong = true
		}
		if !strong && (shared || !idHit) {
			continue // a shared id never decides alone
		}
		hits = append(hits, hit{row, score, on})
	}
	if len(hits) == 0 {
		v := verdict{candidates: idRows}
		switch {
		case len(idRows) > 0 && shared:
			v.reason = fmt.Sprintf("id %s (%s) is shared by many products and its strings match none of them: could be %s",
				id, Shared[id], strings.Join(idRows, "; "))
		case len(idRows) > 0:
			v.reason = fmt.Sprintf("id %s is %s's, but its strings (manufacturer %q, product %q) say otherwise",
				id, strings.Join(idRows, " or "), dev.manufacturer, dev.product)
		case shared:
			v.reason = fmt.Sprintf("id %s (%s) is shared by many products and its strings match none of the known radios", id, Shared[id])
		default:
			v.reason = fmt.Sprintf("no known radio has id %s", id)
		}
		return v
	}
	best := hits[0]
	for _, h := range hits[1:] {
		if h.score > best.score {
			best = h
		}
	}
	var tied []string
	for _, h := range hits {
		if h.score == best.score {
			tied = appendNew(tied, h.row.Name)
		}
	}
	if len(tied) > 1 {
		return verdict{candidates: tied,
			reason: fmt.Sprintf("matches %s equally: set the device and adapter yourself", strings.Join(tied, "; "))}
	}
	return verdict{row: best.row, on: best.on}
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// matchString reports whether s contains one of subs (matched), and
// whether s is compatible with the row (ok): an empty string or an empty
// list never contradicts.
func matchString(s string, subs []string) (matched, ok bool) {
	if len(subs) == 0 || s == "" {
		return false, true
	}
	ls := strings.ToLower(s)
	for _, sub := range subs {
		if strings.Contains(ls, sub) {
			return true, true
		}
	}
	return false, false
}

// anyPattern reports whether one of names matches one of patterns.
func anyPattern(names, patterns []string) bool {
	for _, n := range names {
		ln := strings.ToLower(n)
		for _, p := range patterns {
			if globContains(ln, p) {
				return true
			}
		}
	}
	return false
}

// globContains reports whether the parts of pattern, split at '*', occur
// in s in order.
func globContains(s, pattern string) bool {
	for _, part := range strings.Split(pattern, "*") {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return true
}

// udevName is the /dev/serial/by-id name udev's rules give a port, without
// the -portN suffix usb-serial drivers add: "usb-<manufacturer>_<product>
// [_<serial>]-if<NN>", with hex ids for missing strings.
func udevName(vid, pid, manufacturer, product, serial, iface string) string {
	if manufacturer == "" {
		manufacturer = vid
	}
	if product == "" {
		product = pid
	}
	n := "usb-" + udevSafe(manufacturer) + "_" + udevSafe(product)
	if serial != "" {
		n += "_" + udevSafe(serial)
	}
	if iface != "" {
		n += "-if" + iface
	}
	return n
}

// udevSafe replaces white space with '_' and drops characters udev would
// not keep in a device name.
func udevSafe(s string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r == ' ' || r == '\t':
			b.WriteByte('_')
		case r < 0x80 && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune("#+-.:=@_", r)):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
