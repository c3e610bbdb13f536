package app

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// isTerminal reports whether r is a terminal (not merely a character
// device: /dev/null is one too).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ask prints question and returns the line typed, trimmed.
func ask(in io.Reader, out io.Writer, question string) string {
	fmt.Fprint(out, question)
	line, _ := bufio.NewReader(in).ReadString('\n')
	return strings.TrimSpace(line)
}

// confirm asks a yes/no question; anything but y or yes is no.
func confirm(in io.Reader, out io.Writer, question string) bool {
	a := strings.ToLower(ask(in, out, question))
	return a == "y" || a == "yes"
}
