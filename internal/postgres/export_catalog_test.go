package postgres

import "time"

// SetWatchHeartbeat shortens the watcher's silence check for a test and
// returns a function that restores it.
func SetWatchHeartbeat(d time.Duration) (restore func()) {
	old := watchHeartbeat
	watchHeartbeat = d
	return func() { watchHeartbeat = old }
}

// WatcherApplicationName is the application_name of the LISTEN connection.
const WatcherApplicationName = watcherApplicationName
