//go:build unix

package bench

import (
	"runtime"
	"syscall"
)

// maxRSS is getrusage's peak resident set in bytes: the process's since it
// started (Linux resets it with the high-water mark, see resetPeakRSS).
func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss) // bytes there
	}
	return int64(ru.Maxrss) << 10 // KiB on Linux and the BSDs
}
