package main

import (
	"errors"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tally-credits/tally/internal/credit"
)

// fix is what the command line says about a refused value: the flag (or
// argument) to change and, when the domain error lists no allowed values,
// what it accepts.
type fix struct {
	flag    string
	accepts string
}

// refusalFixes maps a refusal's reason (the API's problem code) to the flag
// that fixes it: the one place where the domain's words become the command
// line's. A key "COMMAND PATH/reason" overrides the reason for one command,
// where the same reason comes from another flag there.
var refusalFixes = map[string]fix{
	"missing_model":            {"--model", "a model id or display name (tally catalog show lists them)"},
	"unknown_model":            {"--model", ""},
	"unsupported_operation":    {"--op", ""},
	"unsupported_resolution":   {"--resolution", ""},
	"unsupported_aspect_ratio": {"--aspect", ""},
	"invalid_image_count":      {"--images", ""},
	"unsupported_scale":        {"--scale", ""},
	"invalid_input_size":       {"--input", "WxH, each side 1 to 16384 pixels, e.g. 1920x1080"},
	"invalid_input_image":      {"--input-file", "a PNG, JPEG, GIF or WebP image"},
	"unsupported_option":       {"--enhance", "image models only"},
	"unknown_kind":             {"--kind", ""},
	"unknown_source":           {"--source", ""},
	"invalid_scope":            {"--scope", ""},
	"invalid_key":              {"--account", "with --scope account only, and then required"},
	"invalid_expiry":           {"--expires", "an RFC 3339 time in the future, e.g. 2027-01-31T00:00:00Z"},
	"invalid_priority":         {"--priority", "0 or more (lower is used first)"},
	"invalid_memo":             {"--memo", "at most 1000 bytes, no control characters but tab and line breaks"},
	"invalid_expiry_in":        {"--expires-in", "a duration more than 0, e.g. 720h"},
	"invalid_limit":            {"--limit", "1 to 1000"},
	"invalid_cursor":           {"--before", "an entry id that account history printed"},
	"invalid_amount":           {"CREDITS", "more than 0, at most three decimals, e.g. 12.5"},
	"invalid_account_id":       {"ID", "1 to 128 letters, digits, punctuation or symbols; no spaces or invisible characters; composed (NFC); not . or .."},
	"unknown_tag":              {"--applies-to-tags", ""},
	"unknown_plan":             {"--plan", ""},
	"same_plan":                {"--plan", "another paid plan"},
	"invalid_time_zone":        {"--time-zone", "an IANA time zone name, e.g. Europe/Berlin"},
	"invalid_billing":          {"--billing", ""},
	"invalid_at":               {"--at", ""},
	"invalid_start":            {"--starts-at", "now or a time within a year, RFC 3339 or a date"},
	"reserved_account_id":      {"ID", "any id but platform"},
	"invalid_account_kind":     {"--kind", ""},
	"not_a_team":               {"TEAM", "a team account (tally account create ID --kind team)"},
	"invalid_member_id":        {"MEMBER", "the studio's user id: 1 to 128 letters, digits, punctuation or symbols; no spaces or invisible characters"},
	"unknown_member":           {"MEMBER", "a member of the team (tally team member list TEAM)"},
	"invalid_event_type":       {"--types", ""},
	"invalid_wait":             {"--wait", "0s to 60s, e.g. 30s"},
	"invalid_webhook_url":      {"--url", ""},
	"webhook_url_private":      {"--url", "a public address, or --allow-private"},
	"invalid_description":      {"--description", "at most 500 bytes of printable text"},
	"unknown_webhook":          {"ID", "a webhook id (tally webhook list)"},
	"unknown_delivery":         {"DELIVERY", "a delivery of the webhook (tally webhook deliveries ID)"},
	"unknown_topup":            {"ID", "a top-up id (tally topup list ACCOUNT)"},
	"invalid_threshold":        {"--low-balance", "0 or more credits (0: no alert)"},
	"invalid_reason":           {"--reason", "one line of text, at most 500 bytes"},
	"invalid_status":           {"--status", ""},
	"invalid_group_by":         {"--group-by", ""},
	"invalid_range":            {"--from", "--from before --to, at most 400 days apart"},
	"over_refund":              {"--credits", ""},
	"unknown_generation":       {"ID", "a generation id (tally account generations ACCOUNT lists them)"},
	"unknown_hold":             {"ID", "a hold id (tally account show ACCOUNT lists the open ones)"},
	"unknown_grant":            {"GRANT", "a grant id (tally account show ACCOUNT lists them)"},

	"tally account create/invalid_amount":         {"--overdraft", "0 or more credits, at most three decimals"},
	"tally account plan/unknown_plan":             {"PLAN", ""},
	"tally grant expiry/invalid_expiry":           {"--expires-at", "a time in the future, RFC 3339 or a date; or --never"},
	"tally keys create/invalid_expiry":            {"--expires-in", "a duration more than 0, e.g. 2160h"},
	"tally team member set/invalid_amount":        {"--limit", "0 or more credits a month, at most three decimals, e.g. 100"},
	"tally team member set/invalid_account_id":    {"TEAM", "a team's account id"},
	"tally team member list/invalid_account_id":   {"TEAM", "a team's account id"},
	"tally team member remove/invalid_account_id": {"TEAM", "a team's account id"},
	"tally keys create/not_a_team":                {"--account", "a team's account id, with --member"},
	"tally keys create/invalid_member_id":         {"--member", "the studio's user id: 1 to 128 letters, digits, punctuation or symbols; no spaces or invisible characters"},
	"tally events/invalid_cursor":                 {"--after", "a next cursor that tally events printed"},
	"tally events/invalid_account_id":             {"--account", "an account id"},
	"tally webhook create/invalid_event_type":     {"--events", ""},
	"tally webhook deliveries/invalid_limit":      {"--limit", "1 to 500"},
	"tally webhook deliveries/invalid_cursor":     {"--before", "a delivery id that tally webhook deliveries printed"},
	"tally topup list/invalid_limit":              {"--limit", "1 to 500"},
	"tally topup list/invalid_cursor":             {"--before", "a top-up id that tally topup list printed"},
	"tally topup list/invalid_account_id":         {"ACCOUNT", "an account id"},
	"tally account alerts/invalid_account_id":     {"ACCOUNT", "an account id"},
	"tally account auto-topup/invalid_account_id": {"ACCOUNT", "an account id"},

	"tally generation refund/invalid_amount":       {"--credits", "more than 0, at most three decimals, e.g. 73.5"},
	"tally account debit/invalid_amount":           {"--credits", "more than 0, at most three decimals, e.g. 10"},
	"tally account debit/insufficient_credits":     {"--credits", "at most what the account has available and not held"},
	"tally account list/invalid_limit":             {"--limit", "1 to 500"},
	"tally account audit/invalid_limit":            {"--limit", "1 to 500"},
	"tally account audit/invalid_cursor":           {"--before", "an audit entry id that tally account audit printed"},
	"tally account generations/invalid_cursor":     {"--cursor", "a cursor that tally account generations printed"},
	"tally report consumption/invalid_range":       {"--from", "whole UTC days (dates), --from before --to, at most 400 days apart"},
	"tally catalog impact/invalid_range":           {"--from", "--from before --to, at most 400 days apart"},
	"tally catalog impact/unknown_catalog_version": {"FILE|VERSION", "a catalog file, or a version tally catalog history lists"},
}

// refusal is the one line the command line prints for a refused request:
// the flag to change, the reason, and what is allowed.
func refusal(cmdPath string, err error) string {
	msg := credit.ErrorMessage(err)
	reason := credit.ErrorReason(err)
	f, ok := refusalFixes[cmdPath+"/"+reason]
	if !ok {
		f, ok = refusalFixes[reason]
	}
	if !ok {
		return msg
	}
	if !strings.Contains(msg, f.flag) && !strings.HasPrefix(msg, "--") { // a message may name its flag itself
		msg = f.flag + ": " + msg
	}
	var e *credit.Error
	switch {
	case errors.As(err, &e) && len(e.Allowed) > 0:
		msg += "; allowed: " + strings.Join(e.Allowed, ", ")
	case f.accepts != "":
		msg += "; allowed: " + f.accepts
	}
	return msg
}

// flagError rewrites pflag's refusal of a value that does not parse ("invalid
// argument "x" for "--priority" flag: strconv.ParseInt: …") into one line
// naming the flag and the form it takes.
func flagError(err error) error {
	var iv *pflag.InvalidValueError
	if !errors.As(err, &iv) {
		return err
	}
	fl := iv.GetFlag()
	form := map[string]string{
		"int":      "a whole number, e.g. 2",
		"int64":    "a whole number, e.g. 2",
		"float64":  "a number, e.g. 2000",
		"duration": "a duration with a unit, e.g. 720h, 90m or 30s",
		"bool":     "true or false",
	}[fl.Value.Type()]
	if form == "" {
		return err
	}
	return credit.Errorf(credit.Invalid, "invalid_flag", "--%s %q: allowed: %s", fl.Name, iv.GetValue(), form)
}
