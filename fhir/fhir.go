// Package fhir is a small FHIR R4 client for appointment campaigns: it pulls a day's
// booked appointments with their patient (name, phone, language), practitioner and
// location, and writes a patient's answer back (Appointment.status cancelled, or a
// Task asking staff to reschedule). It uses net/http and encoding/json on the few
// resources it needs; github.com/google/fhir/go was not used: its R4 protos and
// jsonformat bring the whole generated resource set for four resource shapes.
package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Reference is a FHIR Reference.
type Reference struct {
	Reference string `json:"reference,omitempty"`
	Display   string `json:"display,omitempty"`
}

// Participant is an Appointment participant.
type Participant struct {
	Actor  *Reference `json:"actor,omitempty"`
	Status string     `json:"status,omitempty"`
}

// Appointment is the subset of R4 Appointment careline reads (Cancel writes back the
// server's whole resource, so no field is dropped).
type Appointment struct {
	ID          string        `json:"id,omitempty"`
	Status      string        `json:"status"`
	Start       *time.Time    `json:"start,omitempty"`
	Participant []Participant `json:"participant,omitempty"`
}

// HumanName, ContactPoint and friends are the Patient fields careline needs.
type HumanName struct {
	Text   string   `json:"text,omitempty"`
	Family string   `json:"family,omitempty"`
	Given  []string `json:"given,omitempty"`
}

func (n HumanName) String() string {
	if n.Text != "" {
		return n.Text
	}
	return strings.TrimSpace(strings.Join(append(append([]string{}, n.Given...), n.Family), " "))
}

type contactPoint struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
	Use    string `json:"use,omitempty"`
	Rank   int    `json:"rank,omitempty"`
}

type resource struct {
	ResourceType  string          `json:"resourceType"`
	ID            string          `json:"id"`
	Name          json.RawMessage `json:"name,omitempty"` // []HumanName (Patient, Practitioner) or string (Location)
	Telecom       []contactPoint  `json:"telecom,omitempty"`
	Communication []struct {
		Language  struct{ Coding []struct{ Code string } } `json:"language"`
		Preferred bool                                     `json:"preferred"`
	} `json:"communication,omitempty"`
}

// Booked is one booked appointment with what a campaign contact needs. Name and Phone
// are PHI.
type Booked struct {
	AppointmentID string
	Start         time.Time
	PatientRef    string // "Patient/<id>"
	Name          string
	Phone         string
	Language      string // BCP-47 primary subtag ("en", "es"); "" unknown
	Provider      string
	Location      string
}

// Client talks to one FHIR R4 base URL.
type Client struct {
	Base string
	HTTP *http.Client
	// Token, when set, is sent as a bearer token.
	Token string
}

// NewClient returns a client for base (e.g. https://ehr.example.org/fhir/R4).
func NewClient(base string) *Client {
	return &Client{Base: strings.TrimRight(base, "/"), HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// ErrNotFound is returned for a 404.
var ErrNotFound = errors.New("fhir: not found")

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("fhir: encode: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+"/"+path, body)
	if err != nil {
		return fmt.Errorf("fhir: %w", err)
	}
	req.Header.Set("Accept", "application/fhir+json")
	if in != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry patient ids
		}
		return fmt.Errorf("fhir: %s %s: %w", method, strings.SplitN(path, "?", 2)[0], err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("fhir: read: %w", err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return ErrNotFound
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("fhir: %s %s: server answered %d", method, strings.SplitN(path, "?", 2)[0], resp.StatusCode)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("fhir: decode: %w", err)
		}
	}
	return nil
}

// BookedAppointments returns the booked appointments of day (in day's location),
// following every page, with each participant read once.
func (c *Client) BookedAppointments(ctx context.Context, day time.Time) ([]Booked, error) {
	q := url.Values{"date": {day.Format(time.DateOnly)}, "status": {"booked"}, "_count": {"100"}}
	path := "Appointment?" + q.Encode()
	cache := map[string]*resource{}
	var out []Booked
	for path != "" {
		var bundle struct {
			Link []struct {
				Relation string `json:"relation"`
				URL      string `json:"url"`
			} `json:"link"`
			Entry []struct {
				Resource Appointment `json:"resource"`
			} `json:"entry"`
		}
		if err := c.do(ctx, http.MethodGet, path, nil, &bundle); err != nil {
			return nil, err
		}
		for _, e := range bundle.Entry {
			b, err := c.booked(ctx, e.Resource, cache)
			if err != nil {
				return nil, err
			}
			if b != nil {
				out = append(out, *b)
			}
		}
		path = ""
		for _, l := range bundle.Link {
			if l.Relation == "next" {
				path = strings.TrimPrefix(strings.TrimPrefix(l.URL, c.Base), "/")
			}
		}
	}
	return out, nil
}

func (c *Client) booked(ctx context.Context, a Appointment, cache map[string]*resource) (*Booked, error) {
	if a.Status != "booked" || a.Start == nil {
		return nil, nil
	}
	b := &Booked{AppointmentID: a.ID, Start: *a.Start}
	for _, p := range a.Participant {
		if p.Actor == nil || p.Actor.Reference == "" {
			continue
		}
		ref := p.Actor.Reference
		typ, _, _ := strings.Cut(ref, "/")
		r := cache[ref]
		if r == nil {
			r = &resource{}
			if err := c.do(ctx, http.MethodGet, ref, nil, r); err != nil && !errors.Is(err, ErrNotFound) {
				return nil, err
			}
			cache[ref] = r
		}
		switch typ {
		case "Patient":
			b.PatientRef = ref
			b.Name = firstName(r.Name)
			b.Phone = phone(r.Telecom)
			for _, cm := range r.Communication {
				if len(cm.Language.Coding) > 0 && (b.Language == "" || cm.Preferred) {
					b.Language, _, _ = strings.Cut(cm.Language.Coding[0].Code, "-")
				}
			}
		case "Practitioner":
			b.Provider = firstName(r.Name)
			if b.Provider == "" {
				b.Provider = p.Actor.Display
			}
		case "Location":
			_ = json.Unmarshal(r.Name, &b.Location)
			if b.Location == "" {
				b.Location = p.Actor.Display
			}
		}
	}
	if b.PatientRef == "" {
		return nil, nil
	}
	return b, nil
}

func firstName(raw json.RawMessage) string {
	var names []HumanName
	if json.Unmarshal(raw, &names) != nil || len(names) == 0 {
		return ""
	}
	return names[0].String()
}

// phone picks the patient's best phone: mobile, then home, then any; lowest rank first.
func phone(tp []contactPoint) string {
	best, score := "", -1
	for _, t := range tp {
		if t.System != "phone" && t.System != "sms" {
			continue
		}
		s := map[string]int{"mobile": 30, "home": 20, "work": 10}[t.Use] - t.Rank
		if s > score {
			best, score = t.Value, s
		}
	}
	return best
}

// Cancel sets the appointment's status to cancelled (read, change, PUT: every other
// field the server holds is kept).
func (c *Client) Cancel(ctx context.Context, id string) error {
	var a map[string]any
	if err := c.do(ctx, http.MethodGet, "Appointment/"+url.PathEscape(id), nil, &a); err != nil {
		return err
	}
	a["status"] = "cancelled"
	a["cancelationReason"] = map[string]any{"text": "patient cancelled by phone (careline)"}
	return c.do(ctx, http.MethodPut, "Appointment/"+url.PathEscape(id), a, nil)
}

// Confirm records the patient's confirmation as an AppointmentResponse (accepted).
func (c *Client) Confirm(ctx context.Context, id, patientRef string) error {
	return c.do(ctx, http.MethodPost, "AppointmentResponse", map[string]any{"resourceType": "AppointmentResponse",
		"appointment": map[string]any{"reference": "Appointment/" + id}, "actor": map[string]any{"reference": patientRef},
		"participantStatus": "accepted", "comment": "confirmed by phone (careline)"}, nil)
}

// RequestReschedule creates a Task for staff to reschedule the appointment.
func (c *Client) RequestReschedule(ctx context.Context, id, patientRef string) error {
	return c.do(ctx, http.MethodPost, "Task", map[string]any{"resourceType": "Task", "status": "requested",
		"intent": "order", "priority": "routine", "description": "Patient asked by phone to reschedule (careline)",
		"focus": map[string]any{"reference": "Appointment/" + id}, "for": map[string]any{"reference": patientRef}}, nil)
}
