package fhir

import (
	"encoding/csv"
	"fmt"
	"io"
	"time"
)

// ContactColumns is the campaign CSV header ContactsCSV writes: the appointment
// purpose's columns (dialer.Columns), so the dialer's import checks FHIR contacts
// exactly as it checks a file.
var ContactColumns = []string{"patient_ref", "phone", "language", "time_zone", "appointment_date", "appointment_time",
	"provider", "location"}

// ContactsCSV writes booked appointments as campaign contacts, with the appointment's
// date and time in loc (the clinic's zone, also each contact's time zone).
func ContactsCSV(w io.Writer, booked []Booked, loc *time.Location) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ContactColumns); err != nil {
		return fmt.Errorf("fhir: contacts: %w", err)
	}
	for _, b := range booked {
		at := b.Start.In(loc)
		if err := cw.Write([]string{b.PatientRef, b.Phone, b.Language, loc.String(), at.Format(time.DateOnly),
			at.Format("15:04"), b.Provider, b.Location}); err != nil {
			return fmt.Errorf("fhir: contacts: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("fhir: contacts: %w", err)
	}
	return nil
}
