package dialer

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CSV columns.
const (
	ColPatientRef      = "patient_ref"
	ColPhone           = "phone"
	ColLanguage        = "language"
	ColTimeZone        = "time_zone"
	ColState           = "state"
	ColZIP             = "zip"
	ColPharmacyName    = "pharmacy_name"
	ColCallbackNumber  = "callback_number"
	ColAppointmentDate = "appointment_date"
	ColAppointmentTime = "appointment_time"
	ColProvider        = "provider"
	ColLocation        = "location"
)

// Columns returns the CSV columns of a purpose: the required ones (which the header
// must have) and the optional ones. Any other column is refused, so that no data
// beyond what the call needs is imported.
func Columns(p Purpose) (required, optional []string) {
	required = []string{ColPatientRef, ColPhone}
	optional = []string{ColLanguage, ColTimeZone, ColState, ColZIP}
	switch p {
	case RefillReminder:
		optional = append(optional, ColPharmacyName, ColCallbackNumber)
	case AppointmentConfirmation:
		required = append(required, ColAppointmentDate, ColAppointmentTime, ColProvider, ColLocation)
	}
	return required, optional
}

// ErrBadHeader is matched by a *HeaderError.
var ErrBadHeader = errors.New("dialer: bad CSV header")

// HeaderError says what is wrong with a CSV header and lists the expected columns.
type HeaderError struct {
	Missing  []string
	Unknown  []string
	Repeated []string
	Required []string
	Optional []string
}

func (e *HeaderError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "missing "+strings.Join(e.Missing, ", "))
	}
	if len(e.Unknown) > 0 {
		parts = append(parts, "unknown "+strings.Join(e.Unknown, ", "))
	}
	if len(e.Repeated) > 0 {
		parts = append(parts, "repeated "+strings.Join(e.Repeated, ", "))
	}
	return fmt.Sprintf("dialer: bad CSV header (%s); expected columns: %s; optional: %s",
		strings.Join(parts, "; "), strings.Join(e.Required, ","), strings.Join(e.Optional, ","))
}

// Is makes errors.Is(err, ErrBadHeader) true.
func (e *HeaderError) Is(target error) bool { return target == ErrBadHeader }

// RowReason classifies a rejected row.
type RowReason string

// The row reasons.
const (
	RowBadPhone        RowReason = "bad_phone"
	RowUnknownTimeZone RowReason = "unknown_time_zone"
	RowPastAppointment RowReason = "past_appointment"
	RowMissingField    RowReason = "missing_field"
	RowBadDate         RowReason = "bad_date"
	RowBadTime         RowReason = "bad_time"
	RowBadLanguage     RowReason = "bad_language"
	RowBadCSV          RowReason = "bad_csv"
)

// RowError is one rejected row. Msg never repeats the row's values (they are PHI).
type RowError struct {
	Line   int // 1-based line in the file (the header is line 1)
	Reason RowReason
	Column string
	Msg    string
}

func (e RowError) String() string {
	s := fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	if e.Column != "" {
		s += " (" + e.Column + ")"
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// ImportReport summarises an import.
type ImportReport struct {
	Campaign   string
	Rows       int // data rows read
	Added      int // new contacts
	Duplicates int // rows already imported (same campaign, patient, phone and purpose fields)
	Bad        []RowError
}

// ImportOptions tunes ImportWith.
type ImportOptions struct {
	// Now is the clock (past appointments are refused); default time.Now.
	Now func() time.Time
	// Progress is called with rows done and the total as the import goes.
	Progress func(done, total int)
}

// Import reads contacts for campaign c from CSV and adds the good rows; see ImportWith.
func Import(ctx context.Context, pool *pgxpool.Pool, c *Campaign, r io.Reader, progress func(done, total int)) (ImportReport, error) {
	return ImportWith(ctx, pool, c, r, ImportOptions{Progress: progress})
}

// ImportWith reads contacts from CSV: a header row with the columns of Columns(c.Purpose)
// (case and spaces ignored), then one row per patient. Phones are normalised to E.164;
// the time zone comes from time_zone, else zip/state, else the number's area code. Each
// bad row is reported with its line and reason and the good rows are kept. Re-importing
// a file adds nothing twice (the key is campaign + patient + phone + purpose fields).
// A wrong header returns a *HeaderError and imports nothing.
func ImportWith(ctx context.Context, pool *pgxpool.Pool, c *Campaign, r io.Reader, o ImportOptions) (ImportReport, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	rep := ImportReport{Campaign: c.Name}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		req, opt := Columns(c.Purpose)
		return rep, &HeaderError{Missing: req, Required: req, Optional: opt}
	}
	if err != nil {
		return rep, fmt.Errorf("dialer: import: read header: %w", err)
	}
	cols, err := parseHeader(c.Purpose, header)
	if err != nil {
		return rep, err
	}
	type row struct {
		line   int
		fields []string
	}
	var rows []row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			rep.Rows++
			rep.Bad = append(rep.Bad, RowError{Line: pe.StartLine, Reason: RowBadCSV, Msg: pe.Err.Error()})
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("dialer: import: %w", err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		rows = append(rows, row{line, slices.Clone(rec)})
	}
	total := len(rows) + rep.Rows
	rep.Rows = total
	now := o.Now()
	var good []contactRow
	for _, rw := range rows {
		get := func(col string) string {
			i, ok := cols[col]
			if !ok || i >= len(rw.fields) {
				return ""
			}
			return strings.TrimSpace(rw.fields[i])
		}
		cr, bad := parseRow(c, get, now)
		if bad != nil {
			bad.Line = rw.line
			rep.Bad = append(rep.Bad, *bad)
			continue
		}
		cr.line = rw.line
		good = append(good, cr)
	}
	if o.Progress != nil {
		o.Progress(len(rep.Bad), total)
	}
	if err := EnsureCampaign(ctx, pool, c); err != nil {
		return rep, err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		const chunk = 500
		for start := 0; start < len(good); start += chunk {
			b := &pgx.Batch{}
			part := good[start:min(start+chunk, len(good))]
			for _, g := range part {
				b.Queue(`INSERT INTO campaign_contacts (campaign, patient_ref, phone, language, time_zones, tz_source,
					state_code, fields, appointment_at, dedupe_key, import_line, next_attempt_at)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
					ON CONFLICT (campaign, dedupe_key) DO NOTHING`,
					c.Name, g.patientRef, g.phone, g.language, g.loc.Zones, g.loc.Source, g.loc.State, g.fields,
					g.appointmentAt, g.dedupe, g.line, now)
			}
			res := tx.SendBatch(ctx, b)
			for range part {
				tag, err := res.Exec()
				if err != nil {
					res.Close()
					return err
				}
				if tag.RowsAffected() == 1 {
					rep.Added++
				} else {
					rep.Duplicates++
				}
			}
			if err := res.Close(); err != nil {
				return err
			}
			if o.Progress != nil {
				o.Progress(len(rep.Bad)+start+len(part), total)
			}
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("dialer: import: %w", err)
	}
	return rep, nil
}

func normHeader(s string) string {
	s = strings.TrimPrefix(s, "\ufeff")
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer(" ", "_", "-", "_").Replace(s)
}

func parseHeader(p Purpose, header []string) (map[string]int, error) {
	req, opt := Columns(p)
	cols := map[string]int{}
	he := &HeaderError{Required: req, Optional: opt}
	for i, h := range header {
		n := normHeader(h)
		if !slices.Contains(req, n) && !slices.Contains(opt, n) {
			he.Unknown = append(he.Unknown, strings.TrimSpace(h))
			continue
		}
		if _, dup := cols[n]; dup {
			he.Repeated = append(he.Repeated, n)
			continue
		}
		cols[n] = i
	}
	for _, r := range req {
		if _, ok := cols[r]; !ok {
			he.Missing = append(he.Missing, r)
		}
	}
	if len(he.Missing)+len(he.Unknown)+len(he.Repeated) > 0 {
		return nil, he
	}
	return cols, nil
}

type contactRow struct {
	line          int
	patientRef    string
	phone         string
	language      string
	loc           Location
	fields        map[string]string
	appointmentAt *time.Time
	dedupe        string
}

func parseLanguage(s, def string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return def, true
	case "en", "eng", "english", "en-us", "inglés", "ingles":
		return "en", true
	case "es", "spa", "spanish", "es-419", "es-us", "es-mx", "español", "espanol":
		return "es", true
	}
	return "", false
}

func parseRow(c *Campaign, get func(string) string, now time.Time) (contactRow, *RowError) {
	req, _ := Columns(c.Purpose)
	for _, col := range req {
		if col == ColProvider || col == ColLocation {
			continue // may be empty: the message does not need them
		}
		if get(col) == "" {
			return contactRow{}, &RowError{Reason: RowMissingField, Column: col, Msg: "empty"}
		}
	}
	out := contactRow{patientRef: get(ColPatientRef), fields: map[string]string{}}
	phone, err := NormalizePhone(get(ColPhone))
	if err != nil {
		return out, &RowError{Reason: RowBadPhone, Column: ColPhone, Msg: strings.TrimPrefix(err.Error(), ErrBadPhone.Error()+": ")}
	}
	out.phone = phone
	lang, ok := parseLanguage(get(ColLanguage), c.Language)
	if !ok {
		return out, &RowError{Reason: RowBadLanguage, Column: ColLanguage, Msg: "use en or es"}
	}
	out.language = lang
	out.loc, err = Locate(get(ColTimeZone), get(ColState), get(ColZIP), phone)
	if err != nil {
		col := ColTimeZone
		switch {
		case get(ColTimeZone) != "":
		case get(ColZIP) != "" && strings.Contains(err.Error(), "ZIP"):
			col = ColZIP
		case get(ColState) != "":
			col = ColState
		default:
			col = ColPhone
		}
		return out, &RowError{Reason: RowUnknownTimeZone, Column: col, Msg: strings.TrimPrefix(err.Error(), ErrUnknownZone.Error()+": ")}
	}
	switch c.Purpose {
	case RefillReminder:
		out.fields[ColPharmacyName] = get(ColPharmacyName)
		if out.fields[ColPharmacyName] == "" {
			out.fields[ColPharmacyName] = c.PharmacyName
		}
		cb := get(ColCallbackNumber)
		if cb == "" {
			cb = c.CallbackNumber
		} else if n, err := NormalizePhone(cb); err == nil {
			cb = n
		} else {
			return out, &RowError{Reason: RowBadPhone, Column: ColCallbackNumber, Msg: "not a valid US number"}
		}
		out.fields[ColCallbackNumber] = cb
	case AppointmentConfirmation:
		loc, _ := time.LoadLocation(out.loc.Zones[0])
		at, rerr := parseAppointment(get(ColAppointmentDate), get(ColAppointmentTime), loc)
		if rerr != nil {
			return out, rerr
		}
		if !at.After(now) {
			return out, &RowError{Reason: RowPastAppointment, Column: ColAppointmentDate, Msg: "the appointment is not in the future"}
		}
		out.appointmentAt = &at
		out.fields[ColAppointmentDate] = at.Format("2006-01-02")
		out.fields[ColAppointmentTime] = at.Format("15:04")
		out.fields[ColProvider] = get(ColProvider)
		out.fields[ColLocation] = get(ColLocation)
		out.fields[ColPharmacyName] = c.PharmacyName
		out.fields[ColCallbackNumber] = c.CallbackNumber
	}
	b, _ := json.Marshal(out.fields) // map keys are sorted: a canonical form
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", c.Name, c.Purpose, out.patientRef, out.phone)
	h.Write(b)
	out.dedupe = hex.EncodeToString(h.Sum(nil))
	return out, nil
}

var (
	dateLayouts = []string{"2006-01-02", "01/02/2006", "1/2/2006", "2006/01/02"}
	timeLayouts = []string{"15:04", "15:04:05", "3:04 PM", "3:04PM", "3:04 pm", "3:04pm", "3 PM", "3PM", "3pm", "3 pm"}
)

func parseAppointment(ds, ts string, loc *time.Location) (time.Time, *RowError) {
	var d time.Time
	var err error
	for _, l := range dateLayouts {
		if d, err = time.Parse(l, ds); err == nil {
			break
		}
	}
	if err != nil {
		return time.Time{}, &RowError{Reason: RowBadDate, Column: ColAppointmentDate, Msg: "want YYYY-MM-DD or MM/DD/YYYY"}
	}
	var t time.Time
	for _, l := range timeLayouts {
		if t, err = time.Parse(l, strings.ToUpper(ts)); err == nil {
			break
		}
		if t, err = time.Parse(l, ts); err == nil {
			break
		}
	}
	if err != nil {
		return time.Time{}, &RowError{Reason: RowBadTime, Column: ColAppointmentTime, Msg: "want HH:MM (24 h) or H:MM AM/PM"}
	}
	return time.Date(d.Year(), d.Month(), d.Day(), t.Hour(), t.Minute(), 0, 0, loc), nil
}
