package results

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/careline/careline/dialer"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OptOutEntry is one do-not-call entry (PHI: phone, patient reference).
type OptOutEntry struct {
	Phone      string    `json:"phone"`
	PatientRef string    `json:"patient_ref,omitempty"`
	Source     string    `json:"source"`
	Campaign   string    `json:"campaign,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// AddOptOut records phone (any US format; stored E.164) as do-not-call. It reports
// whether the entry is new; an existing entry is kept as it was.
func AddOptOut(ctx context.Context, pool *pgxpool.Pool, phone, patientRef, source string) (string, bool, error) {
	e164, err := dialer.NormalizePhone(phone)
	if err != nil {
		return "", false, err
	}
	tag, err := pool.Exec(ctx, `INSERT INTO opt_outs (phone, patient_ref, source) VALUES ($1, NULLIF($2, ''), $3)
		ON CONFLICT (phone) DO NOTHING`, e164, patientRef, source)
	if err != nil {
		return "", false, fmt.Errorf("results: opt-out: %w", err)
	}
	return e164, tag.RowsAffected() == 1, nil
}

// OptOuts lists do-not-call entries after the phone cursor (in phone order).
func OptOuts(ctx context.Context, pool *pgxpool.Pool, after string, limit int) ([]OptOutEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := pool.Query(ctx, `SELECT phone, COALESCE(patient_ref, ''), source, COALESCE(campaign, ''), created_at
		FROM opt_outs WHERE phone > $1 ORDER BY phone LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("results: opt-outs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OptOutEntry, error) {
		var e OptOutEntry
		err := r.Scan(&e.Phone, &e.PatientRef, &e.Source, &e.Campaign, &e.CreatedAt)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("results: opt-outs: %w", err)
	}
	return out, nil
}

// BadRow is a refused line of an import.
type BadRow struct {
	Line int
	Msg  string
}

// ImportReport says what an opt-out import did.
type ImportReport struct {
	Rows, Added, Existing int
	Bad                   []BadRow
}

// ErrHeader is returned when the file has no usable header line.
var ErrHeader = errors.New("results: header")

// ImportOptOuts reads a CSV do-not-call list: a header with a "phone" column (and
// optionally "patient_ref"), then one number per row. Rows with a bad number, or more
// or fewer fields than the header, are reported by line and skipped; the rest are kept.
func ImportOptOuts(ctx context.Context, pool *pgxpool.Pool, r io.Reader, source string) (ImportReport, error) {
	var rep ImportReport
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err != nil {
		return rep, fmt.Errorf("%w: cannot read the header: %v", ErrHeader, err)
	}
	for i := range head {
		head[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(head[i], "\ufeff")))
	}
	pi, ri := slices.Index(head, "phone"), slices.Index(head, "patient_ref")
	if pi < 0 {
		return rep, fmt.Errorf(`%w: no "phone" column (found %s)`, ErrHeader, strings.Join(head, ", "))
	}
	type row struct{ phone, ref string }
	var good []row
	seen := map[string]bool{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			rep.Rows++
			rep.Bad = append(rep.Bad, BadRow{Line: line, Msg: "unreadable CSV: " + err.Error()})
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		rep.Rows++
		if len(rec) != len(head) {
			rep.Bad = append(rep.Bad, BadRow{Line: line, Msg: fmt.Sprintf("%d fields, the header has %d", len(rec), len(head))})
			continue
		}
		e164, err := dialer.NormalizePhone(rec[pi])
		if err != nil {
			rep.Bad = append(rep.Bad, BadRow{Line: line, Msg: "phone: " + err.Error()})
			continue
		}
		if seen[e164] {
			rep.Existing++
			continue
		}
		seen[e164] = true
		ref := ""
		if ri >= 0 {
			ref = strings.TrimSpace(rec[ri])
		}
		good = append(good, row{e164, ref})
	}
	if len(good) == 0 {
		return rep, nil
	}
	phones, refs := make([]string, len(good)), make([]string, len(good))
	for i, g := range good {
		phones[i], refs[i] = g.phone, g.ref
	}
	tag, err := pool.Exec(ctx, `INSERT INTO opt_outs (phone, patient_ref, source)
		SELECT p, NULLIF(r, ''), $3 FROM unnest($1::text[], $2::text[]) AS u(p, r) ON CONFLICT (phone) DO NOTHING`,
		phones, refs, source)
	if err != nil {
		return rep, fmt.Errorf("results: import opt-outs: %w", err)
	}
	rep.Added = int(tag.RowsAffected())
	rep.Existing += len(good) - rep.Added
	return rep, nil
}
