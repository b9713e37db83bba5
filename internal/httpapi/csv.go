package httpapi

import (
	"bytes"
	"encoding/csv"
	"strings"
)

// csvColumn is one column of a CSV answer. number marks the columns whose
// cells tally writes itself as numbers (ids, amounts, counts): they are left
// as they are, so that a charge of -49 stays the number -49. Every other
// column is text, which may come from a client (a memo) or a catalog, and is
// neutralised by csvText. The decision is the column's, never a guess from
// what a cell looks like: a memo "-49" is text and is neutralised too.
type csvColumn struct {
	name   string
	number bool
}

// csvNames returns the header row of cols.
func csvNames(cols []csvColumn) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return names
}

// csvText neutralises a text cell that a spreadsheet would read as a formula
// (OWASP's CSV injection: a cell starting with =, +, -, @, tab or carriage
// return) by prefixing a single quote, which spreadsheets show as text and do
// not evaluate. Other cells are returned as they are.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// csvOutput is the one writer of every CSV answer: RFC 4180 (CRLF), a header
// row, then rows whose cells follow cols, text cells neutralised.
func csvOutput(cols []csvColumn, rows [][]string) (*dataOutput, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true // RFC 4180
	if err := w.Write(csvNames(cols)); err != nil {
		return nil, err
	}
	cells := make([]string, len(cols))
	for _, row := range rows {
		for i, c := range cols {
			cells[i] = row[i]
			if !c.number {
				cells[i] = csvText(row[i])
			}
		}
		if err := w.Write(cells); err != nil {
			return nil, err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	return &dataOutput{ContentType: "text/csv; charset=utf-8; header=present", Body: buf.Bytes()}, nil
}
