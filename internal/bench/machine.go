package bench

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// Machine is what the numbers were measured on: they mean nothing without it.
type Machine struct {
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPU        string `json:"cpu,omitempty"`    // model name (Linux)
	Memory     int64  `json:"memory_bytes"`     // total RAM (Linux); 0 if unknown
	Kernel     string `json:"kernel,omitempty"` // (Linux)
	GoVersion  string `json:"go_version"`
	// LoadBefore and LoadAfter are the 1-, 5- and 15-minute load averages
	// when the run began and ended (Linux): other work on the machine shows
	// in the ratios, and here.
	LoadBefore string `json:"load_before,omitempty"`
	LoadAfter  string `json:"load_after,omitempty"`
	// Drivers are the store drivers' module versions.
	Drivers map[string]string `json:"drivers,omitempty"`
}

func machine() Machine {
	m := Machine{
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion: runtime.Version(), LoadBefore: loadAverage(),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if _, rest, ok := strings.Cut(string(b), "MemTotal:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				var kib int64
				for _, r := range f[0] {
					kib = kib*10 + int64(r-'0')
				}
				m.Memory = kib << 10
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "modernc.org/sqlite", "github.com/jackc/pgx/v5":
				if m.Drivers == nil {
					m.Drivers = map[string]string{}
				}
				m.Drivers[d.Path] = d.Version
			}
		}
	}
	return m
}

// loadAverage returns the load averages, "" where unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
