// Package results gives a campaign's outcomes to the list owner: per-contact results
// (attempts, final disposition, next due time) by API and as CSV, and the do-not-call
// list (opt-outs by API and CSV import). It reads and writes the dialer's tables
// (migration 0003) and holds no state of its own.
package results

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Contact is one campaign contact's result. Phone and PatientRef are PHI: they go to
// authenticated supervisors and the list owner's export only.
type Contact struct {
	ID               int64      `json:"id"`
	PatientRef       string     `json:"patient_ref"`
	Phone            string     `json:"phone"`
	Language         string     `json:"language"`
	Status           string     `json:"status"`
	Attempts         int        `json:"attempts"`
	LastAttemptAt    *time.Time `json:"last_attempt_at,omitempty"`
	LastDialResult   string     `json:"last_dial_result,omitempty"`
	FinalDisposition string     `json:"final_disposition,omitempty"`
	NextDueAt        *time.Time `json:"next_due_at,omitempty"` // only while the contact is pending
	AppointmentAt    *time.Time `json:"appointment_at,omitempty"`
	ImportLine       *int       `json:"import_line,omitempty"`
}

// Filter selects contacts.
type Filter struct {
	// Disposition matches the final disposition, or the status for contacts without
	// one (pending, dialing, opted_out, ...).
	Disposition string
	// Day keeps contacts last attempted on that date (UTC, YYYY-MM-DD).
	Day string
	// Cursor continues a previous page (opaque).
	Cursor string
	// Limit caps the page (default 100, at most 1000).
	Limit int
}

// ErrBadFilter is returned for an unparsable day or cursor.
var ErrBadFilter = errors.New("results: bad filter")

// Page is one page of contacts; Next is empty on the last page.
type Page struct {
	Contacts []Contact `json:"contacts"`
	Next     string    `json:"next_cursor,omitempty"`
}

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("c:" + strconv.FormatInt(id, 10)))
}

func decodeCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 3 || string(b[:2]) != "c:" {
		return 0, fmt.Errorf("%w: cursor", ErrBadFilter)
	}
	id, err := strconv.ParseInt(string(b[2:]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: cursor", ErrBadFilter)
	}
	return id, nil
}

// Contacts returns one page of campaign's contacts in import order.
func Contacts(ctx context.Context, pool *pgxpool.Pool, campaign string, f Filter) (Page, error) {
	after, err := decodeCursor(f.Cursor)
	if err != nil {
		return Page{}, err
	}
	var day *time.Time
	if f.Day != "" {
		d, err := time.Parse(time.DateOnly, f.Day)
		if err != nil {
			return Page{}, fmt.Errorf("%w: day must be YYYY-MM-DD", ErrBadFilter)
		}
		day = &d
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var out []Contact
	err = each(ctx, pool, campaign, f.Disposition, day, after, limit+1, func(c Contact) error {
		out = append(out, c)
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	p := Page{Contacts: out}
	if len(out) > limit {
		p.Contacts = out[:limit]
		p.Next = encodeCursor(out[limit-1].ID)
	}
	if p.Contacts == nil {
		p.Contacts = []Contact{}
	}
	return p, nil
}

func each(ctx context.Context, pool *pgxpool.Pool, campaign, disp string, day *time.Time, after int64, limit int,
	f func(Contact) error) error {
	rows, err := pool.Query(ctx, `SELECT c.id, c.patient_ref, c.phone, c.language, c.status, c.attempts, c.last_attempt_at,
			COALESCE(la.dial_result, ''), COALESCE(c.final_disposition, ''),
			CASE WHEN c.status = 'pending' THEN c.next_attempt_at END, c.appointment_at, c.import_line
		FROM campaign_contacts c
		LEFT JOIN LATERAL (SELECT dial_result FROM contact_attempts a WHERE a.contact_id = c.id
			ORDER BY a.attempt_no DESC LIMIT 1) la ON true
		WHERE c.campaign = $1 AND c.id > $2
		  AND ($3 = '' OR COALESCE(c.final_disposition, c.status) = $3)
		  AND ($4::date IS NULL OR (c.last_attempt_at AT TIME ZONE 'UTC')::date = $4::date)
		ORDER BY c.id LIMIT $5`, campaign, after, disp, day, limit)
	if err != nil {
		return fmt.Errorf("results: contacts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c Contact
		if err := rows.Scan(&c.ID, &c.PatientRef, &c.Phone, &c.Language, &c.Status, &c.Attempts, &c.LastAttemptAt,
			&c.LastDialResult, &c.FinalDisposition, &c.NextDueAt, &c.AppointmentAt, &c.ImportLine); err != nil {
			return fmt.Errorf("results: contacts: %w", err)
		}
		if err := f(c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("results: contacts: %w", err)
	}
	return nil
}

// Columns are the CSV export's header, in the API's field names.
var Columns = []string{"id", "patient_ref", "phone", "language", "status", "attempts", "last_attempt_at",
	"last_dial_result", "final_disposition", "next_due_at", "appointment_at", "import_line"}

// ExportCSV writes every contact of campaign matching f (Cursor and Limit ignored) as
// CSV with Columns, streaming page by page, and returns how many rows it wrote.
func ExportCSV(ctx context.Context, pool *pgxpool.Pool, campaign string, f Filter, w io.Writer) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(Columns); err != nil {
		return 0, fmt.Errorf("results: export: %w", err)
	}
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	var day *time.Time
	if f.Day != "" {
		d, err := time.Parse(time.DateOnly, f.Day)
		if err != nil {
			return 0, fmt.Errorf("%w: day must be YYYY-MM-DD", ErrBadFilter)
		}
		day = &d
	}
	n := 0
	var after int64
	for {
		got := 0
		err := each(ctx, pool, campaign, f.Disposition, day, after, 5000, func(c Contact) error {
			got++
			after = c.ID
			line := ""
			if c.ImportLine != nil {
				line = strconv.Itoa(*c.ImportLine)
			}
			n++
			return cw.Write([]string{strconv.FormatInt(c.ID, 10), csvSafe(c.PatientRef), csvSafe(c.Phone), c.Language, c.Status,
				strconv.Itoa(c.Attempts), ts(c.LastAttemptAt), c.LastDialResult, c.FinalDisposition, ts(c.NextDueAt),
				ts(c.AppointmentAt), line})
		})
		if err != nil {
			return n, err
		}
		if got < 5000 {
			break
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, fmt.Errorf("results: export: %w", err)
	}
	return n, nil
}

// csvSafe defuses spreadsheet formulas in values that came from an imported file.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '@' || s[0] == '-' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}
