package dialer

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// ErrBadPhone is matched by NormalizePhone errors.
var ErrBadPhone = errors.New("dialer: bad phone number")

// ErrUnknownZone is matched by Locate errors: no time zone could be found.
var ErrUnknownZone = errors.New("dialer: unknown time zone")

// usRegions are the NANP regions this US dialer calls (the states and territories).
var usRegions = map[string]bool{"US": true, "PR": true, "VI": true, "GU": true, "AS": true, "MP": true}

// NormalizePhone parses a patient's number (national US format or E.164) and returns
// it in E.164. Only valid US (and US territory) numbers that can reach a person are
// accepted: not toll-free, premium or shared-cost numbers.
func NormalizePhone(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fmt.Errorf("%w: empty", ErrBadPhone)
	}
	n, err := phonenumbers.Parse(raw, "US")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadPhone, err)
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", fmt.Errorf("%w: not a valid number", ErrBadPhone)
	}
	if region := phonenumbers.GetRegionCodeForNumber(n); !usRegions[region] {
		return "", fmt.Errorf("%w: not a US number (region %s)", ErrBadPhone, region)
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.TOLL_FREE, phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.PAGER, phonenumbers.UAN:
		return "", fmt.Errorf("%w: not a personal line", ErrBadPhone)
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// Location is where a patient is, as far as calling hours go. When the zone is not
// certain (a state or area code that spans zones), Zones lists every candidate and the
// gate requires the window to be open in all of them.
type Location struct {
	Zones  []string // IANA zones
	State  string   // US state or territory code; "" if unknown
	Source string   // record, zip, state, number
}

// Locate finds a patient's time zone(s) and state: from the record's IANA zone, else
// the ZIP code, else the state, else the phone number (area code). tz, state and zip
// may be empty; e164 is the normalised phone.
func Locate(tz, state, zip, e164 string) (Location, error) {
	state = strings.ToUpper(strings.TrimSpace(state))
	if state != "" {
		if code, ok := stateByName[strings.ToLower(state)]; ok {
			state = code
		}
		if _, ok := stateZones[state]; !ok {
			return Location{}, fmt.Errorf("%w: unknown state %q", ErrUnknownZone, state)
		}
	}
	zip = strings.TrimSpace(zip)
	zipState, zipZones := "", []string(nil)
	if zip != "" {
		var err error
		if zipState, zipZones, err = zipLocation(zip); err != nil {
			return Location{}, err
		}
		if state == "" {
			state = zipState
		}
	}
	if tz = strings.TrimSpace(tz); tz != "" {
		if _, err := time.LoadLocation(tz); err != nil || !strings.Contains(tz, "/") {
			return Location{}, fmt.Errorf("%w: %q is not an IANA zone", ErrUnknownZone, tz)
		}
		return Location{Zones: []string{tz}, State: state, Source: "record"}, nil
	}
	if zipZones != nil && (zipState == state) {
		return Location{Zones: zipZones, State: state, Source: "zip"}, nil
	}
	if state != "" {
		return Location{Zones: slices.Clone(stateZones[state]), State: state, Source: "state"}, nil
	}
	return locateNumber(e164)
}

func locateNumber(e164 string) (Location, error) {
	n, err := phonenumbers.Parse(e164, "US")
	if err != nil {
		return Location{}, fmt.Errorf("%w: %w", ErrUnknownZone, err)
	}
	zones, err := phonenumbers.GetTimezonesForNumber(n)
	if err != nil {
		return Location{}, fmt.Errorf("%w: %w", ErrUnknownZone, err)
	}
	loc := Location{Source: "number"}
	for _, z := range zones {
		if z == phonenumbers.UNKNOWN_TIMEZONE {
			return Location{}, fmt.Errorf("%w: the number's area gives no zone", ErrUnknownZone)
		}
	}
	// The geocoder names the state of the area code ("Florida", "New York, NY"): add
	// every zone of that state, since area codes can straddle zone lines.
	if g, err := phonenumbers.GetGeocodingForNumber(n, "en"); err == nil && g != "" {
		name := strings.ToLower(strings.TrimSpace(g))
		if i := strings.LastIndex(name, ","); i >= 0 {
			name = strings.TrimSpace(name[i+1:])
		}
		if code, ok := stateByName[name]; ok {
			loc.State = code
		} else if _, ok := stateZones[strings.ToUpper(name)]; ok {
			loc.State = strings.ToUpper(name)
		}
	}
	if loc.State == "" {
		switch phonenumbers.GetRegionCodeForNumber(n) {
		case "PR", "VI", "GU", "AS", "MP":
			loc.State = phonenumbers.GetRegionCodeForNumber(n)
		}
	}
	loc.Zones = zones
	if loc.State != "" {
		for _, z := range stateZones[loc.State] {
			if !slices.Contains(loc.Zones, z) {
				loc.Zones = append(loc.Zones, z)
			}
		}
	}
	if len(loc.Zones) == 0 || len(loc.Zones) > 3 {
		return Location{}, fmt.Errorf("%w: the number's area spans %d zones", ErrUnknownZone, len(loc.Zones))
	}
	return loc, nil
}

const (
	eastern  = "America/New_York"
	central  = "America/Chicago"
	mountain = "America/Denver"
	pacific  = "America/Los_Angeles"
)

// stateZones lists the zones of each state, main zone first. Arizona is America/Phoenix
// (no DST); the Navajo Nation's DST is not modelled.
var stateZones = map[string][]string{
	"AL": {central}, "AK": {"America/Anchorage", "America/Adak"}, "AZ": {"America/Phoenix"}, "AR": {central},
	"CA": {pacific}, "CO": {mountain}, "CT": {eastern}, "DE": {eastern}, "DC": {eastern},
	"FL": {eastern, central}, "GA": {eastern}, "HI": {"Pacific/Honolulu"}, "ID": {"America/Boise", pacific},
	"IL": {central}, "IN": {"America/Indiana/Indianapolis", central}, "IA": {central}, "KS": {central, mountain},
	"KY": {"America/Kentucky/Louisville", central}, "LA": {central}, "ME": {eastern}, "MD": {eastern},
	"MA": {eastern}, "MI": {"America/Detroit", "America/Menominee"}, "MN": {central}, "MS": {central},
	"MO": {central}, "MT": {mountain}, "NE": {central, mountain}, "NV": {pacific}, "NH": {eastern},
	"NJ": {eastern}, "NM": {mountain}, "NY": {eastern}, "NC": {eastern}, "ND": {central, mountain},
	"OH": {eastern}, "OK": {central}, "OR": {pacific, "America/Boise"}, "PA": {eastern}, "RI": {eastern},
	"SC": {eastern}, "SD": {central, mountain}, "TN": {central, eastern}, "TX": {central, mountain},
	"UT": {mountain}, "VT": {eastern}, "VA": {eastern}, "WA": {pacific}, "WV": {eastern}, "WI": {central},
	"WY": {mountain}, "PR": {"America/Puerto_Rico"}, "VI": {"America/St_Thomas"}, "GU": {"Pacific/Guam"},
	"AS": {"Pacific/Pago_Pago"}, "MP": {"Pacific/Saipan"},
}

var stateByName = map[string]string{
	"alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA", "colorado": "CO",
	"connecticut": "CT", "delaware": "DE", "district of columbia": "DC", "washington d.c.": "DC", "florida": "FL",
	"georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA", "kansas": "KS",
	"kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
	"minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
	"new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY", "north carolina": "NC",
	"north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
	"rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN", "texas": "TX",
	"utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA", "west virginia": "WV",
	"wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR", "guam": "GU", "u.s. virgin islands": "VI",
	"american samoa": "AS", "northern mariana islands": "MP",
}

// zip3States maps the first three digits of a ZIP code to a state (USPS prefix ranges).
var zip3States = []struct {
	lo, hi int
	state  string
}{
	{5, 5, "NY"}, {6, 7, "PR"}, {8, 8, "VI"}, {9, 9, "PR"}, {10, 27, "MA"}, {28, 29, "RI"}, {30, 38, "NH"},
	{39, 49, "ME"}, {50, 54, "VT"}, {55, 55, "MA"}, {56, 59, "VT"}, {60, 69, "CT"}, {70, 89, "NJ"},
	{100, 149, "NY"}, {150, 196, "PA"}, {197, 199, "DE"}, {200, 200, "DC"}, {201, 201, "VA"}, {202, 205, "DC"},
	{206, 219, "MD"}, {220, 246, "VA"}, {247, 268, "WV"}, {270, 289, "NC"}, {290, 299, "SC"}, {300, 319, "GA"},
	{320, 339, "FL"}, {341, 349, "FL"}, {350, 369, "AL"}, {370, 385, "TN"}, {386, 397, "MS"}, {398, 399, "GA"},
	{400, 427, "KY"}, {430, 459, "OH"}, {460, 479, "IN"}, {480, 499, "MI"}, {500, 528, "IA"}, {530, 549, "WI"},
	{550, 567, "MN"}, {569, 569, "DC"}, {570, 577, "SD"}, {580, 588, "ND"}, {590, 599, "MT"}, {600, 629, "IL"},
	{630, 658, "MO"}, {660, 679, "KS"}, {680, 693, "NE"}, {700, 714, "LA"}, {716, 729, "AR"}, {730, 749, "OK"},
	{750, 799, "TX"}, {800, 816, "CO"}, {820, 831, "WY"}, {832, 838, "ID"}, {840, 847, "UT"}, {850, 865, "AZ"},
	{870, 884, "NM"}, {885, 885, "TX"}, {889, 898, "NV"}, {900, 961, "CA"}, {967, 968, "HI"}, {969, 969, "GU"},
	{970, 979, "OR"}, {980, 994, "WA"}, {995, 999, "AK"},
}

// zip3Zones pins the zone of ZIP prefixes in states that span zones, where the whole
// prefix area is in one zone. Prefixes not listed keep every zone of their state.
var zip3Zones = map[int]string{
	// Florida: the western panhandle is Central.
	320: eastern, 321: eastern, 322: eastern, 323: eastern, 324: central, 325: central, 326: eastern,
	327: eastern, 328: eastern, 329: eastern, 330: eastern, 331: eastern, 332: eastern, 333: eastern,
	334: eastern, 335: eastern, 336: eastern, 337: eastern, 338: eastern, 339: eastern, 341: eastern,
	342: eastern, 344: eastern, 346: eastern, 347: eastern, 349: eastern,
	// Texas: El Paso is Mountain.
	798: mountain, 799: mountain, 885: mountain,
	// Tennessee: Knoxville and the east are Eastern; Nashville and Memphis Central.
	370: central, 371: central, 372: central, 374: eastern, 375: central, 376: eastern, 377: eastern,
	378: eastern, 379: eastern, 380: central, 381: central, 382: central, 383: central, 384: central, 385: central,
	// Indiana: Gary and Evansville are Central.
	460: "America/Indiana/Indianapolis", 461: "America/Indiana/Indianapolis", 462: "America/Indiana/Indianapolis",
	463: central, 464: central, 476: central, 477: central,
	// Kentucky: Louisville, Lexington and the east are Eastern; the west is Central.
	400: "America/Kentucky/Louisville", 401: "America/Kentucky/Louisville", 402: "America/Kentucky/Louisville",
	403: eastern, 404: eastern, 405: eastern, 406: eastern, 410: eastern, 411: eastern, 412: eastern,
	413: eastern, 414: eastern, 415: eastern, 416: eastern, 417: eastern, 418: eastern,
	420: central, 421: central, 422: central, 423: central, 424: central,
	// Michigan outside the Upper Peninsula.
	480: "America/Detroit", 481: "America/Detroit", 482: "America/Detroit", 483: "America/Detroit",
	484: "America/Detroit", 485: "America/Detroit", 486: "America/Detroit", 487: "America/Detroit",
	488: "America/Detroit", 489: "America/Detroit", 490: "America/Detroit", 491: "America/Detroit",
	492: "America/Detroit", 493: "America/Detroit", 494: "America/Detroit", 495: "America/Detroit",
	496: "America/Detroit", 497: "America/Detroit",
	// The Dakotas, Nebraska, Kansas: the east is Central, Rapid City and Scottsbluff Mountain.
	570: central, 571: central, 572: central, 573: central, 574: central, 575: central, 577: mountain,
	580: central, 581: central, 582: central, 583: central, 584: central, 585: central, 587: central, 588: central,
	680: central, 681: central, 683: central, 684: central, 685: central, 686: central, 687: central,
	688: central, 689: central, 693: mountain,
	660: central, 661: central, 662: central, 664: central, 665: central, 666: central, 667: central,
	668: central, 669: central, 670: central, 671: central, 672: central, 673: central, 674: central,
	675: central, 676: central,
	// Idaho: the panhandle and Lewiston are Pacific; Oregon: all but Malheur is Pacific.
	832: "America/Boise", 833: "America/Boise", 834: "America/Boise", 835: pacific, 836: "America/Boise",
	837: "America/Boise", 838: pacific,
	970: pacific, 971: pacific, 972: pacific, 973: pacific, 974: pacific, 975: pacific, 976: pacific,
	977: pacific, 978: pacific,
	// Alaska outside the Aleutians.
	995: "America/Anchorage", 997: "America/Anchorage", 998: "America/Anchorage", 999: "America/Anchorage",
}

func zipLocation(zip string) (string, []string, error) {
	z := zip
	if i := strings.IndexByte(z, '-'); i >= 0 {
		z = z[:i]
	}
	if len(z) != 5 || strings.Trim(z, "0123456789") != "" {
		return "", nil, fmt.Errorf("%w: bad ZIP code %q", ErrUnknownZone, zip)
	}
	p := int(z[0]-'0')*100 + int(z[1]-'0')*10 + int(z[2]-'0')
	for _, r := range zip3States {
		if p >= r.lo && p <= r.hi {
			if zone, ok := zip3Zones[p]; ok {
				return r.state, []string{zone}, nil
			}
			return r.state, slices.Clone(stateZones[r.state]), nil
		}
	}
	return "", nil, fmt.Errorf("%w: ZIP code %q is not a US postal area", ErrUnknownZone, zip)
}
