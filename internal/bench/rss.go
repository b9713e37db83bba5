package bench

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// The resident set, read from /proc on Linux. Elsewhere the current value is
// unknown (0: no RSS samples, no slope) and the peak is getrusage's, which is
// the process's since it started.

// Peak-RSS scopes, as Result.PeakRSSScope reports them.
const (
	scopeRun     = "run"     // the high-water mark was reset when the run began
	scopeProcess = "process" // it is the process's since it started
)

// resetPeakRSS resets the resident-set high-water mark where the OS allows it
// (Linux: writing 5 to /proc/self/clear_refs) and says which scope peakRSS
// will then report.
func resetPeakRSS() string {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return scopeProcess
	}
	return scopeRun
}

// peakRSS returns the resident-set high-water mark in bytes.
func peakRSS() int64 {
	if kib := procStatus("VmHWM:"); kib > 0 {
		return kib << 10
	}
	return maxRSS()
}

// currentRSS returns the resident set in bytes, 0 if unknown.
func currentRSS() int64 {
	return procStatus("VmRSS:") << 10
}

// procStatus returns a "kB" field of /proc/self/status, 0 if there is none.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			f := bytes.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			n, _ := strconv.ParseInt(string(f[0]), 10, 64)
			return n
		}
	}
	return 0
}
