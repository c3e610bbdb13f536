package hwdetect

import "golang.org/x/sys/unix"

// kernelClockSynced reads the kernel's STA_UNSYNC flag: a time service
// clears it while it keeps the clock disciplined.
func kernelClockSynced() (synced, ok bool) {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return false, false
	}
	return state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0, true
}
