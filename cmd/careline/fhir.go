package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/careline/careline/dialer"
	"github.com/careline/careline/fhir"
)

const fhirUsage = `usage: careline fhir pull CAMPAIGN --base URL [--date YYYY-MM-DD] [--config FILE]

  pull CAMPAIGN   add the FHIR server's booked appointments of a day (default: tomorrow
                  in site.timezone) to an appointment campaign: Appointment?date=&status=booked
                  with Patient (name, phone, language), Practitioner and Location. The
                  bearer token, if the server needs one, is read from CARELINE_FHIR_TOKEN.
                  Rows are checked like a CSV import; re-pulling adds nothing twice.`

func cmdFHIR(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fhir", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, fhirUsage) }
	path := fs.String("config", "configs/careline.yaml", "configuration file")
	base := fs.String("base", "", "FHIR R4 base URL")
	date := fs.String("date", "", "appointment day (YYYY-MM-DD)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 2 || pos[0] != "pull" || *base == "" {
		fmt.Fprintln(stderr, fhirUsage)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env, ok := openCampaigns(ctx, *path, stderr)
	if !ok {
		return 1
	}
	defer env.pool.Close()
	c, ok := env.campaigns[pos[1]]
	if !ok || c.Purpose != dialer.AppointmentConfirmation {
		fmt.Fprintf(stderr, "careline fhir pull: %q is not a configured appointment_confirmation campaign\n", pos[1])
		return 1
	}
	loc, err := time.LoadLocation(env.cfg.Site.Timezone)
	if err != nil {
		fmt.Fprintf(stderr, "careline fhir pull: site.timezone: %v\n", err)
		return 1
	}
	day := time.Now().In(loc).AddDate(0, 0, 1)
	if *date != "" {
		if day, err = time.ParseInLocation(time.DateOnly, *date, loc); err != nil {
			fmt.Fprintln(stderr, "careline fhir pull: --date must be YYYY-MM-DD")
			return 2
		}
	}
	client := fhir.NewClient(*base)
	client.Token = os.Getenv("CARELINE_FHIR_TOKEN")
	booked, err := client.BookedAppointments(ctx, day)
	if err != nil {
		fmt.Fprintf(stderr, "careline fhir pull: %v\n", err)
		return 1
	}
	var buf bytes.Buffer
	if err := fhir.ContactsCSV(&buf, booked, loc); err != nil {
		fmt.Fprintf(stderr, "careline fhir pull: %v\n", err)
		return 1
	}
	rep, err := dialer.ImportWith(ctx, env.pool, c, &buf, dialer.ImportOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "careline fhir pull: %v\n", err)
		return 1
	}
	for _, b := range rep.Bad {
		ref := ""
		if i := b.Line - 2; i >= 0 && i < len(booked) {
			ref = "Appointment/" + booked[i].AppointmentID + ": "
		}
		fmt.Fprintf(stderr, "%s%s\n", ref, strings.TrimPrefix(b.String(), fmt.Sprintf("line %d: ", b.Line)))
	}
	fmt.Fprintf(stdout, "%s: %d booked appointments on %s: %d added, %d already imported, %d refused\n", c.Name,
		len(booked), day.Format(time.DateOnly), rep.Added, rep.Duplicates, len(rep.Bad))
	if len(rep.Bad) > 0 {
		return exitPartial
	}
	return 0
}
