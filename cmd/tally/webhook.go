package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// The webhook commands work on the store directly; the deliveries are made
// by the tally serve nodes on it (those run with --webhooks, the default).
func (m Main) webhookCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "webhook", Short: "Register, list and delete webhook endpoints; see and retry their deliveries"}
	cmd.AddCommand(m.webhookCreateCmd(), m.webhookListCmd(), m.webhookDeleteCmd(), m.webhookDeliveriesCmd(), m.webhookRetryCmd())
	return cmd
}

// webhookLedger opens the existing ledger for the webhook commands, with
// the URL guard tally serve applies.
func (f *storeFlags) webhookLedger(ctx context.Context, allowPrivate bool) (*credit.Ledger, func(), error) {
	s, err := f.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	return credit.NewLedger(s, credit.LedgerConfig{WebhookGuard: webhookGuard(allowPrivate)}), func() { s.Close() }, nil
}

func (m Main) webhookCreateCmd() *cobra.Command {
	var sf storeFlags
	var url, events, description string
	var allowPrivate, asJSON bool
	cmd := &cobra.Command{
		Use:   "create --url URL --events TYPES [--description TEXT]",
		Short: "Register an endpoint and print its signing secret once",
		Long: "Registers URL to be sent the events of the types --events names (comma-separated, or * for every type), from the next change that commits. " +
			"The signing secret is printed once, on stdout; tally serve nodes sign each delivery with it (Standard Webhooks). " +
			"A URL whose host is or resolves to a loopback or private address is refused unless --allow-private (which tally serve's --webhooks-allow-private must then allow too).",
		Args: cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, closeStore, err := sf.webhookLedger(cmd.Context(), allowPrivate)
			if err != nil {
				return err
			}
			defer closeStore()
			w, err := l.CreateWebhook(cmd.Context(), credit.WebhookSpec{URL: url, Events: splitList(events), Description: description})
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewWebhook(w))
				return nil
			}
			fmt.Fprintf(m.Stderr, "webhook %s created for %s (%s); its signing secret is shown once:\n", w.ID, w.URL, strings.Join(w.Events, ", "))
			fmt.Fprintln(m.Stdout, w.Secret)
			return nil
		},
	}
	sf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&url, "url", "", "where to POST the events: an absolute http or https URL")
	f.StringVar(&events, "events", "", "comma-separated event types to send, or * for every type")
	f.StringVar(&description, "description", "", "for people: at most 500 bytes")
	f.BoolVar(&allowPrivate, "allow-private", false, "accept a URL on a loopback or private address")
	f.BoolVar(&asJSON, "json", false, "print the endpoint, secret included, as POST /v1/webhooks answers")
	return cmd
}

func (m Main) webhookListCmd() *cobra.Command {
	var sf storeFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the endpoints (never their secrets)",
		Args:  cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, closeStore, err := sf.webhookLedger(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer closeStore()
			ws, err := l.Webhooks(cmd.Context())
			if err != nil {
				return err
			}
			out := httpapi.Webhooks{Webhooks: make([]httpapi.Webhook, len(ws))}
			for i, w := range ws {
				out.Webhooks[i] = *httpapi.NewWebhook(w)
			}
			if asJSON {
				writeJSON(m.Stdout, out)
				return nil
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tURL\tEVENTS\tSTATUS\tCREATED\tDESCRIPTION")
			for _, w := range out.Webhooks {
				status := w.Status
				if w.DisabledReason != "" {
					status += " (" + w.DisabledReason + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", w.ID, w.URL, strings.Join(w.Events, ","), status, w.CreatedAt.Format(time.RFC3339), w.Description)
			}
			return tw.Flush()
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the endpoints as GET /v1/webhooks does")
	return cmd
}

func (m Main) webhookDeleteCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an endpoint: nothing more is sent to it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, closeStore, err := sf.webhookLedger(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer closeStore()
			if err := l.DeleteWebhook(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "webhook %s deleted\n", args[0])
			return nil
		},
	}
	sf.register(cmd.Flags())
	return cmd
}

func (m Main) webhookDeliveriesCmd() *cobra.Command {
	var sf storeFlags
	var before string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "deliveries ID",
		Short: "List an endpoint's deliveries, newest first: status, attempts, the last answer",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, closeStore, err := sf.webhookLedger(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer closeStore()
			ds, err := l.Deliveries(cmd.Context(), credit.DeliveryQuery{Webhook: args[0], Before: before, Limit: limit})
			if err != nil {
				return err
			}
			out := httpapi.Deliveries{Webhook: args[0], Deliveries: make([]httpapi.Delivery, len(ds))}
			for i, d := range ds {
				out.Deliveries[i] = httpapi.NewDelivery(d)
			}
			if len(ds) == limit {
				out.NextBefore = ds[len(ds)-1].ID
			}
			if asJSON {
				writeJSON(m.Stdout, out)
				return nil
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tEVENT\tTYPE\tACCOUNT\tSTATUS\tATTEMPTS\tLAST\tNEXT")
			for _, d := range out.Deliveries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Event, d.EventType, orDash(d.Account), d.Status, d.Attempts, lastAttempt(d), timeOrDash(d.NextAt))
			}
			return tw.Flush()
		},
	}
	sf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&before, "before", "", "a delivery id: list those made before it (the last line of the previous page)")
	f.IntVar(&limit, "limit", httpapi.DefaultDeliveryPage, "deliveries to list, 1 to 500")
	f.BoolVar(&asJSON, "json", false, "print the deliveries as GET /v1/webhooks/{id}/deliveries does (next_before when more may follow)")
	return cmd
}

// lastAttempt says how a delivery's last attempt went: the status it was
// answered, or why it got none.
func lastAttempt(d httpapi.Delivery) string {
	switch {
	case d.LastAttemptAt == nil:
		return "-"
	case d.LastStatus != nil:
		return strconv.Itoa(*d.LastStatus)
	case d.LastError != "":
		return strconv.Quote(d.LastError)
	}
	return "no answer"
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func (m Main) webhookRetryCmd() *cobra.Command {
	var sf storeFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "retry ID DELIVERY",
		Short: "Send a delivery again now, whatever became of it",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, closeStore, err := sf.webhookLedger(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer closeStore()
			d, err := l.RetryDelivery(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewDelivery(d))
				return nil
			}
			fmt.Fprintf(m.Stdout, "delivery %s of event %s (%s) to webhook %s is due now\n", d.ID, d.Event, d.EventType, d.Webhook)
			return nil
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the delivery as POST /v1/webhooks/{id}/deliveries/{delivery}/retry answers")
	return cmd
}
