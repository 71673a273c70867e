package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
)

//go:embed daily.html.tmpl
var dailyHTML string

// dailyTmpl is parsed once; it is never modified afterwards.
var dailyTmpl = template.Must(template.New("daily").Funcs(template.FuncMap{
	"show": show,
}).Parse(dailyHTML))

// WriteHTML writes the report as one self-contained HTML page: inline CSS and inline
// SVG charts, no script and no external resource. Every figure carries a data-cell
// attribute (section/ids.../column, as in the CSV) and its exact CSV value in data-value.
func (r *Report) WriteHTML(w io.Writer) error {
	secs := r.sections()
	byName := map[string]*section{}
	for i := range secs {
		byName[secs[i].name] = &secs[i]
	}
	page := htmlPage{R: r, Generated: r.GeneratedAt.Format("2006-01-02 15:04 MST"),
		Hours: strconv.FormatFloat(r.Hours(), 'f', -1, 64), ShortAbandon: fmtDur(r.ShortAbandon), Complete: r.Complete()}
	for _, name := range []string{"queue", "agent", "ivr", "ivr_event", "campaign", "campaign_disposition", "campaign_blocked"} {
		page.Tables = append(page.Tables, htmlTableOf(byName[name]))
	}
	page.Tiles = tiles(byName)
	page.CallsChart = callsChart(r)
	page.SLChart = slChart(r)
	page.OccChart = occupancyChart(r)
	if err := dailyTmpl.Execute(w, page); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	return nil
}

type htmlPage struct {
	R                              *Report
	Generated, Hours, ShortAbandon string
	Complete                       bool
	Tiles                          []tile
	Tables                         []htmlTable
	CallsChart, SLChart, OccChart  chart
}

// table returns the HTML table of a section by name.
func (p htmlPage) Table(name string) htmlTable {
	for _, t := range p.Tables {
		if t.Name == name {
			return t
		}
	}
	return htmlTable{}
}

type htmlTable struct {
	Name, Title string
	Head        []htmlCell
	Rows        [][]htmlCell
	Total       []bool // row i is a total ("all") row
}

type htmlCell struct {
	Key, Value, Text string
	Num              bool
	ID               bool
}

func htmlTableOf(s *section) htmlTable {
	t := htmlTable{Name: s.name, Title: s.title}
	for _, c := range s.cols {
		if c.html {
			t.Head = append(t.Head, htmlCell{Text: c.label, Num: c.kind != kText})
		}
	}
	for i, row := range s.rows {
		var cells []htmlCell
		total := false
		for j, c := range s.cols {
			if c.id && row[j] == All {
				total = true
			}
			if !c.html {
				continue
			}
			cell := htmlCell{Text: show(c.kind, row[j]), Num: c.kind != kText, ID: c.kind == kText}
			if c.kind != kText {
				cell.Key, cell.Value = s.key(i, j), row[j]
			}
			cells = append(cells, cell)
		}
		t.Rows = append(t.Rows, cells)
		t.Total = append(t.Total, total)
	}
	return t
}

// show formats a CSV value for people: durations as h:mm:ss or m:ss, ratios as
// percentages, missing values as a dash.
func show(k kind, v string) string {
	if v == "" {
		if k == kText {
			return ""
		}
		return "–"
	}
	switch k {
	case kSeconds:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return v
		}
		s := int64(math.Round(f))
		if s >= 3600 {
			return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
		}
		return fmt.Sprintf("%d:%02d", s/60, s%60)
	case kRatio:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return v
		}
		return strconv.FormatFloat(f*100, 'f', 1, 64) + " %"
	}
	return v
}

type tile struct {
	Label, Key, Value, Text, Note string
}

func tiles(by map[string]*section) []tile {
	find := func(sec string, key string) (string, kind) {
		s := by[sec]
		for i := range s.rows {
			for j := range s.cols {
				if s.key(i, j) == key {
					return s.rows[i][j], s.cols[j].kind
				}
			}
		}
		return "", kText
	}
	mk := func(label, sec, key, note string) tile {
		v, k := find(sec, key)
		return tile{Label: label, Key: key, Value: v, Text: show(k, v), Note: note}
	}
	return []tile{
		mk("Calls offered", "queue", "queue/all/all/offered", "queue entries"),
		mk("Answered", "queue", "queue/all/all/answered", ""),
		mk("Abandoned", "queue", "queue/all/all/abandoned", "short ones included"),
		mk("Service level", "queue", "queue/all/all/service_level", "answered in threshold"),
		mk("Avg speed of answer", "queue", "queue/all/all/asa_s", ""),
		mk("Avg handle time", "queue", "queue/all/all/aht_s", "talk + wrap-up"),
		mk("Refills requested in IVR", "ivr", "ivr/all/refills_requested", ""),
		mk("Ended in IVR", "ivr", "ivr/all/ended_in_ivr", "without queueing"),
		mk("Campaign attempts", "campaign", "campaign/all/attempts", ""),
		mk("Reached (live)", "campaign", "campaign/all/reached", ""),
	}
}

// ---- inline SVG charts ----

type chart struct {
	W, H   int
	Title  string
	Rects  []svgRect
	Texts  []svgText
	Lines  []svgLine
	Legend []svgLegend
}

type svgRect struct {
	X, Y, W, H  string
	Fill, Title string
	Key, Value  string
}

type svgText struct {
	X, Y, Anchor, Class, Text string
}

type svgLine struct{ X1, Y1, X2, Y2 string }

type svgLegend struct{ Fill, Text string }

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

const (
	colOffered   = "#4e79a7"
	colAnswered  = "#59a14f"
	colAbandoned = "#e15759"
	colSL        = "#76b7b2"
	colOcc       = "#f28e2b"
)

// niceMax rounds v up to 1, 2 or 5 times a power of ten (at least 1).
func niceMax(v int) int {
	if v <= 1 {
		return 1
	}
	p := 1
	for p*10 < v {
		p *= 10
	}
	for _, m := range []int{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func queueTotals(r *Report) []QueueStats {
	var out []QueueStats
	for _, q := range r.Queues {
		if q.Language == All && q.Queue != All {
			out = append(out, q)
		}
	}
	return out
}

func queueLabel(q QueueStats) string {
	if q.Name != "" {
		return q.Name
	}
	return q.Queue
}

// callsChart draws offered, answered and abandoned calls per queue as grouped bars.
func callsChart(r *Report) chart {
	qs := queueTotals(r)
	c := chart{W: 560, H: 300, Title: "Calls per queue",
		Legend: []svgLegend{{colOffered, "Offered"}, {colAnswered, "Answered"}, {colAbandoned, "Abandoned"}}}
	left, right, top, bottom := 44.0, 10.0, 16.0, 44.0
	pw, ph := float64(c.W)-left-right, float64(c.H)-top-bottom
	peak := 0
	for _, q := range qs {
		peak = max(peak, q.Offered, q.Answered, q.Abandoned)
	}
	ymax := niceMax(peak)
	for i := 0; i <= 4; i++ {
		y := top + ph - ph*float64(i)/4
		c.Lines = append(c.Lines, svgLine{f1(left), f1(y), f1(left + pw), f1(y)})
		v := float64(ymax) * float64(i) / 4
		c.Texts = append(c.Texts, svgText{X: f1(left - 6), Y: f1(y + 4), Anchor: "end", Class: "axis",
			Text: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	if len(qs) == 0 {
		c.Texts = append(c.Texts, svgText{X: f1(left + pw/2), Y: f1(top + ph/2), Anchor: "middle", Class: "empty", Text: "No queues"})
		return c
	}
	gw := pw / float64(len(qs))
	bw := gw * 0.8 / 3
	for i, q := range qs {
		gx := left + gw*float64(i) + gw*0.1
		for j, s := range []struct {
			metric, fill string
			v            int
		}{{"offered", colOffered, q.Offered}, {"answered", colAnswered, q.Answered}, {"abandoned", colAbandoned, q.Abandoned}} {
			h := ph * float64(s.v) / float64(ymax)
			x := gx + bw*float64(j)
			c.Rects = append(c.Rects, svgRect{X: f1(x), Y: f1(top + ph - h), W: f1(bw - 2), H: f1(h), Fill: s.fill,
				Title: fmt.Sprintf("%s: %d %s", queueLabel(q), s.v, s.metric),
				Key:   "queue/" + q.Queue + "/all/" + s.metric, Value: strconv.Itoa(s.v)})
			c.Texts = append(c.Texts, svgText{X: f1(x + bw/2 - 1), Y: f1(top + ph - h - 3), Anchor: "middle", Class: "val",
				Text: strconv.Itoa(s.v)})
		}
		c.Texts = append(c.Texts, svgText{X: f1(gx + gw*0.4), Y: f1(top + ph + 18), Anchor: "middle", Class: "lbl",
			Text: clip(queueLabel(q), int(gw/7))})
	}
	return c
}

// hbars draws one horizontal bar (0..100 %) per item.
func hbars(title string, w int, items []hbar, fill string) chart {
	rowH, top, labelW := 30.0, 8.0, 170.0
	c := chart{W: w, Title: title}
	c.H = int(top*2 + rowH*float64(max(len(items), 1)))
	pw := float64(w) - labelW - 90
	for _, pct := range []float64{0, 0.5, 1} {
		x := labelW + pw*pct
		c.Lines = append(c.Lines, svgLine{f1(x), f1(top), f1(x), f1(float64(c.H) - top)})
	}
	if len(items) == 0 {
		c.Texts = append(c.Texts, svgText{X: f1(labelW + pw/2), Y: f1(top + rowH/2 + 4), Anchor: "middle", Class: "empty", Text: "No data"})
	}
	for i, it := range items {
		y := top + rowH*float64(i)
		c.Texts = append(c.Texts, svgText{X: f1(labelW - 8), Y: f1(y + rowH/2 + 4), Anchor: "end", Class: "lbl", Text: clip(it.label, 24)})
		if it.value == "" {
			c.Texts = append(c.Texts, svgText{X: f1(labelW + 4), Y: f1(y + rowH/2 + 4), Class: "empty", Text: "no calls"})
			continue
		}
		f, _ := strconv.ParseFloat(it.value, 64)
		bw := pw * math.Min(math.Max(f, 0), 1)
		c.Rects = append(c.Rects, svgRect{X: f1(labelW), Y: f1(y + 5), W: f1(bw), H: f1(rowH - 10), Fill: fill,
			Title: it.label + ": " + show(kRatio, it.value), Key: it.key, Value: it.value})
		c.Texts = append(c.Texts, svgText{X: f1(labelW + bw + 6), Y: f1(y + rowH/2 + 4), Class: "val",
			Text: show(kRatio, it.value) + it.note})
	}
	return c
}

type hbar struct{ label, key, value, note string }

func slChart(r *Report) chart {
	var items []hbar
	for _, q := range queueTotals(r) {
		items = append(items, hbar{label: queueLabel(q), key: "queue/" + q.Queue + "/all/service_level",
			value: ratio(int64(q.AnsweredInSL), int64(q.SLCalls())), note: " (≤ " + fmtDur(q.ServiceLevel) + " s)"})
	}
	return hbars("Service level per queue", 560, items, colSL)
}

func occupancyChart(r *Report) chart {
	var items []hbar
	for _, a := range r.Agents {
		if a.Agent == All {
			continue
		}
		label := a.Name
		if label == "" {
			label = a.Agent
		}
		items = append(items, hbar{label: label, key: "agent/" + a.Agent + "/occupancy",
			value: ratio(millis(a.Talk+a.WrapUp), millis(a.Staffed())),
			note:  " of " + show(kSeconds, fmtDur(a.Staffed())) + " staffed"})
	}
	return hbars("Agent occupancy", 1160, items, colOcc)
}

// clip shortens s to n runes with an ellipsis.
func clip(s string, n int) string {
	n = max(n, 4)
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	return strings.TrimSpace(string(rs[:n-1])) + "…"
}
