//go:build !linux

package hwdetect

import "errors"

// freeBytes is only measured on Linux, where hakube runs.
func freeBytes(string) (int64, error) {
	return 0, errors.New("free space is only measured on Linux")
}
