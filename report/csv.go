package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
)

// WriteCSV writes the report as one CSV file in sections (see the package doc): each
// section is a header row starting with "section" followed by its data rows starting
// with the section's name; all rows are padded to the same number of fields.
func (r *Report) WriteCSV(w io.Writer) error {
	secs := r.sections()
	width := 0
	for _, s := range secs {
		width = max(width, len(s.cols)+1)
	}
	cw := csv.NewWriter(w)
	rec := make([]string, width)
	put := func(first string, fields []string, text func(int) bool) error {
		clear(rec)
		rec[0] = first
		for i, f := range fields {
			if text(i) {
				f = spreadsheetSafe(f)
			}
			rec[i+1] = f
		}
		return cw.Write(rec)
	}
	for _, s := range secs {
		hdr := make([]string, len(s.cols))
		for i, c := range s.cols {
			hdr[i] = c.name
		}
		if err := put("section", hdr, func(int) bool { return false }); err != nil {
			return fmt.Errorf("report: csv: %w", err)
		}
		for _, row := range s.rows {
			if err := put(s.name, row, func(i int) bool { return s.cols[i].kind == kText }); err != nil {
				return fmt.Errorf("report: csv: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: csv: %w", err)
	}
	return nil
}

// spreadsheetSafe keeps a text value from being read as a formula by a spreadsheet
// (names come from configuration and the database): a leading =, +, -, @, tab or CR
// gets a leading apostrophe.
func spreadsheetSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
