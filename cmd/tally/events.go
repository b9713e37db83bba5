package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// followWait is how long each long poll of `tally events --follow` waits
// when --wait is not given.
const followWait = 30 * time.Second

// The events command reads the feed from the store directly, like the
// account commands: a write of any node (or of another command) shows
// within a fraction of a second.
func (m Main) eventsCmd() *cobra.Command {
	var sf storeFlags
	var after, types, account string
	var limit int
	var wait time.Duration
	var follow, asJSON bool
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Print the change feed: the ledger's events after a cursor, as GET /v1/events answers them",
		Long: "Prints up to --limit events after the cursor --after, oldest first, and the cursor to read on from. With --wait, waits up to that long (at most 60s) for an event when none is there yet. " +
			"With --follow, keeps reading until interrupted, printing each event as it comes (one JSON object a line with --json).",
		Args: cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if follow {
				if !cmd.Flags().Changed("wait") {
					wait = followWait
				} else if wait <= 0 {
					return credit.Errorf(credit.Invalid, "invalid_wait", "--wait %s with --follow would read without pause: allowed: 1s to 60s (default 30s)", wait)
				}
			}
			l, s, err := sf.openLedger(ctx, nil)
			if err != nil {
				return err
			}
			defer s.Close()
			q := credit.EventQuery{After: after, Types: splitList(types), Account: account, Limit: limit}
			if !follow {
				evs, err := l.WaitEvents(ctx, q, wait)
				if err != nil {
					return err
				}
				out := httpapi.Events{Events: make([]httpapi.Event, len(evs)), NextCursor: after}
				for i, e := range evs {
					out.Events[i] = httpapi.NewEvent(e)
				}
				if len(evs) > 0 {
					out.NextCursor = evs[len(evs)-1].Cursor
				}
				if asJSON {
					writeJSON(m.Stdout, out)
					return nil
				}
				tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "TIME\tTYPE\tACCOUNT\tID\tDATA")
				for _, e := range out.Events {
					fmt.Fprintln(tw, eventLine(e))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(m.Stdout, "next cursor: %q (give it to --after for the events that follow)\n", out.NextCursor)
				return nil
			}
			if !asJSON {
				fmt.Fprintln(m.Stdout, "TIME\tTYPE\tACCOUNT\tID\tDATA")
			}
			for {
				evs, err := l.WaitEvents(ctx, q, wait)
				if ctx.Err() != nil {
					return nil // interrupted: the events read so far were printed
				}
				if err != nil {
					return err
				}
				for _, e := range evs {
					printEvent(m.Stdout, httpapi.NewEvent(e), asJSON)
				}
				if len(evs) > 0 {
					q.After = evs[len(evs)-1].Cursor
				}
			}
		},
	}
	sf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&after, "after", "", "the cursor to read after, as the last answer's next cursor printed it (default: from the first event)")
	f.StringVar(&types, "types", "", "comma-separated event types to keep, e.g. balance.low,topup.requested (default: every type)")
	f.StringVar(&account, "account", "", "keep one account's events only")
	f.IntVar(&limit, "limit", httpapi.DefaultEventPage, "the most events to print (1 to 1000; with --follow, a read)")
	f.DurationVar(&wait, "wait", 0, "wait up to this long (at most 60s) for an event when none is there yet (default 0, or 30s with --follow)")
	f.BoolVar(&follow, "follow", false, "keep reading and printing events until interrupted")
	f.BoolVar(&asJSON, "json", false, "print as GET /v1/events answers; with --follow, one event a line")
	return cmd
}

// eventLine is an event as a tab-separated line: time, type, account ("-"
// for none), id and data.
func eventLine(e httpapi.Event) string {
	account := e.Account
	if account == "" {
		account = "-"
	}
	return strings.Join([]string{e.Time.Format(time.RFC3339Nano), e.Type, account, e.ID, string(e.Data)}, "\t")
}

// printEvent prints one followed event: a JSON object on one line, or the
// event's line.
func printEvent(w io.Writer, e httpapi.Event, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w) // one line, as compact as the API's
		enc.SetEscapeHTML(false)
		_ = enc.Encode(e)
		return
	}
	fmt.Fprintln(w, eventLine(e))
}

// splitList reads a comma-separated flag ("" for none).
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}
