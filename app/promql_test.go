package app

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// labelListWords are PromQL keywords followed by a parenthesised list of label names.
var labelListWords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true}

// aggregations are PromQL aggregation operators: "sum by (x) (...)" puts the label list
// between the operator and its parenthesis.
var aggregations = map[string]bool{"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true,
	"stdvar": true, "count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true}

// promqlWords are PromQL keywords that are not metric names.
var promqlWords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"inf": true, "nan": true, "atan2": true, "group_left": true, "group_right": true}

var grafanaVar = regexp.MustCompile(`\$\{[A-Za-z0-9_]+(:[a-z]+)?\}|\$[A-Za-z_][A-Za-z0-9_]*`)

// metricNames returns the series names an expression selects: identifiers that are not
// functions, keywords or label names. Strings, label matchers ({...}), ranges ([...]),
// comments and Grafana variables are skipped.
func metricNames(expr string) ([]string, error) {
	s := grafanaVar.ReplaceAllString(expr, "1")
	var out []string
	skipString := func(i int) (int, error) {
		q := s[i]
		for j := i + 1; j < len(s); j++ {
			if s[j] == '\\' && q != '`' {
				j++
				continue
			}
			if s[j] == q {
				return j + 1, nil
			}
		}
		return 0, fmt.Errorf("unterminated string at %d", i)
	}
	skipTo := func(i int, open, close byte) (int, error) {
		depth := 0
		for j := i; j < len(s); {
			switch c := s[j]; {
			case c == '"' || c == '\'' || c == '`':
				k, err := skipString(j)
				if err != nil {
					return 0, err
				}
				j = k
				continue
			case c == open:
				depth++
			case c == close:
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
			j++
		}
		return 0, fmt.Errorf("unbalanced %c at %d", open, i)
	}
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j, err := skipString(i)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '{':
			j, err := skipTo(i, '{', '}')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '[':
			j, err := skipTo(i, '[', ']')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			word := s[i:j]
			k := j
			for k < len(s) && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r') {
				k++
			}
			nextParen := k < len(s) && s[k] == '('
			switch {
			case labelListWords[word] && nextParen:
				e, err := skipTo(k, '(', ')')
				if err != nil {
					return nil, err
				}
				j = e
			case nextParen, promqlWords[word], aggregations[word]:
				// a function or aggregation, or a keyword
			default:
				out = append(out, word)
			}
			i = j
		default:
			i++
		}
	}
	return out, nil
}

func TestMetricNames(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`up == 0`, []string{"up"}},
		{`sum by (queue) (rate(careline_x_total{outcome="a,b}"}[$__rate_interval]))`, []string{"careline_x_total"}},
		{`sum(rate(a_total[5m])) by (queue) / on(queue) group_left(state) b`, []string{"a_total", "b"}},
		{`histogram_quantile(0.9, sum by (le) (rate(h_bucket{queue=~"$queue"}[1h])))`, []string{"h_bucket"}},
		{`queue:careline_sl:ratio_rate15m < bool 0.8 offset 1d`, []string{"queue:careline_sl:ratio_rate15m"}},
		{`label_replace(m, "dst", "$1", "src", "(.*)") # comment mentions not_a_metric`, []string{"m"}},
		{`max without (instance) (x) unless ignoring (a) y and z or 1e3`, []string{"x", "y", "z"}},
		{`topk(${n}, m2)`, []string{"m2"}},
	} {
		got, err := metricNames(c.expr)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("metricNames(%q) = %q, %v; want %q", c.expr, got, err, c.want)
		}
	}
	for _, bad := range []string{`sum(x{a="b"`, `rate(x[5m)`, `x{a="b}`} {
		if _, err := metricNames(bad); err == nil {
			t.Errorf("metricNames(%q): no error", bad)
		}
	}
}

// ---- Prometheus rules ----

type promRule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type ruleGroup struct {
	file  string
	name  string
	rules []promRule
}

// loadRuleFiles reads every rules file under configs/prometheus/rules.
func loadRuleFiles(t *testing.T) []ruleGroup {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "configs", "prometheus", "rules", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in configs/prometheus/rules (%v)", err)
	}
	var out []ruleGroup
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Groups []struct {
				Name  string     `yaml:"name"`
				Rules []promRule `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range doc.Groups {
			out = append(out, ruleGroup{file: filepath.Base(f), name: g.Name, rules: g.Rules})
		}
	}
	return out
}

// Every rule uses only series careline exports (or other rules define); every alert
// has a severity and a summary that names no caller data.
func TestRulesUseExportedMetrics(t *testing.T) {
	a := fullEngine(t)
	known := knownSeries(t, a.Registry())
	alerts := map[string]bool{}
	for _, g := range loadRuleFiles(t) {
		for _, r := range g.rules {
			id := r.Record + r.Alert
			names, err := metricNames(r.Expr)
			if err != nil {
				t.Errorf("%s %s: %v", g.file, id, err)
			}
			for _, n := range names {
				if !known[n] {
					t.Errorf("%s %s: %s is neither a careline metric nor a recording rule", g.file, id, n)
				}
			}
			if r.Alert == "" {
				continue
			}
			if alerts[r.Alert] {
				t.Errorf("%s: alert %s defined twice", g.file, r.Alert)
			}
			alerts[r.Alert] = true
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s %s: every alert needs a severity label and a summary annotation", g.file, r.Alert)
			}
		}
	}
}

// ---- Grafana ----

type gPanel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	GridPos    *struct{ H, W, X, Y int }
	Targets    []struct {
		Expr       string          `json:"expr"`
		RefID      string          `json:"refId"`
		Datasource json.RawMessage `json:"datasource"`
	} `json:"targets"`
	Panels []gPanel `json:"panels"`
}

type gDashboard struct {
	ID            *int     `json:"id"`
	UID           string   `json:"uid"`
	Title         string   `json:"title"`
	SchemaVersion int      `json:"schemaVersion"`
	Panels        []gPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource json.RawMessage `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Inputs json.RawMessage `json:"__inputs"`
}

// grafanaMacros turns a panel expression into plain PromQL for promtool.
func grafanaMacros(expr string) string {
	r := strings.NewReplacer("$__rate_interval", "5m", "${__rate_interval}", "5m", "$__range", "1d", "${__range}", "1d",
		"$__interval", "1m", "${__interval}", "1m")
	return grafanaVar.ReplaceAllString(r.Replace(expr), ".+")
}

func isPromDatasource(raw json.RawMessage) bool {
	var ds struct{ Type, UID string }
	return json.Unmarshal(raw, &ds) == nil && ds.Type == "prometheus" && ds.UID == "${datasource}"
}

// The dashboards are provisionable as they are, every panel queries the datasource
// variable, and every expression parses (promtool) and uses only series careline
// exports or the recording rules define.
func TestGrafanaDashboards(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is missing: run scripts/services.sh deps test (Debian package prometheus)")
	}
	a := fullEngine(t)
	known := knownSeries(t, a.Registry())
	files, _ := filepath.Glob(filepath.Join(repoRoot, "configs", "grafana", "dashboards", "*.json"))
	if len(files) == 0 {
		t.Fatal("no dashboards in configs/grafana/dashboards")
	}
	uids := map[string]string{}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard_exprs\n    rules:\n")
	nExpr := 0
	for _, f := range files {
		name := filepath.Base(f)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d gDashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.ID != nil || d.UID == "" || d.Title == "" || d.SchemaVersion == 0 || d.Inputs != nil {
			t.Errorf("%s: want \"id\": null, a fixed uid, a title, a schemaVersion and no __inputs", name)
		}
		if prev, dup := uids[d.UID]; dup {
			t.Errorf("%s: uid %s also used by %s", name, d.UID, prev)
		}
		uids[d.UID] = name
		check := func(where, expr string) {
			names, err := metricNames(expr)
			if err != nil {
				t.Errorf("%s %s: %v", name, where, err)
			}
			for _, n := range names {
				if !known[n] {
					t.Errorf("%s %s: %s is neither a careline metric nor a recording rule", name, where, n)
				}
			}
			nExpr++
			fmt.Fprintf(&rules, "      - record: dashboard:expr_%d\n        expr: %q\n", nExpr, grafanaMacros(expr))
		}
		var hasDS bool
		for _, v := range d.Templating.List {
			if v.Type == "datasource" && v.Name == "datasource" && string(v.Query) == `"prometheus"` {
				hasDS = true
			}
			if v.Type == "query" {
				if !isPromDatasource(v.Datasource) {
					t.Errorf("%s: variable %s does not use ${datasource}", name, v.Name)
				}
				var q struct{ Query string }
				if json.Unmarshal(v.Query, &q) != nil {
					_ = json.Unmarshal(v.Query, &q.Query)
				}
				m := regexp.MustCompile(`^label_values\((.+),\s*[a-z_]+\)$`).FindStringSubmatch(q.Query)
				if m == nil {
					t.Errorf("%s: variable %s: query %q is not label_values(expr, label)", name, v.Name, q.Query)
					continue
				}
				check("variable "+v.Name, m[1])
			}
		}
		if !hasDS {
			t.Errorf("%s: no datasource variable (type datasource, name datasource, query prometheus)", name)
		}
		ids := map[int]bool{}
		var rows []string
		var walk func(ps []gPanel)
		walk = func(ps []gPanel) {
			for _, p := range ps {
				if ids[p.ID] || p.ID == 0 {
					t.Errorf("%s: panel %q: id %d missing or not unique", name, p.Title, p.ID)
				}
				ids[p.ID] = true
				if p.GridPos == nil {
					t.Errorf("%s: panel %q has no gridPos", name, p.Title)
				}
				if p.Type == "row" {
					rows = append(rows, p.Title)
					walk(p.Panels)
					continue
				}
				if !isPromDatasource(p.Datasource) {
					t.Errorf("%s: panel %q: datasource must be {type: prometheus, uid: ${datasource}}", name, p.Title)
				}
				if len(p.Targets) == 0 {
					t.Errorf("%s: panel %q has no queries", name, p.Title)
				}
				for _, tg := range p.Targets {
					if tg.Expr == "" || tg.RefID == "" {
						t.Errorf("%s: panel %q: a target without expr or refId", name, p.Title)
					}
					if tg.Datasource != nil && !isPromDatasource(tg.Datasource) {
						t.Errorf("%s: panel %q: target datasource must be ${datasource}", name, p.Title)
					}
					check(fmt.Sprintf("panel %q", p.Title), tg.Expr)
				}
			}
		}
		walk(d.Panels)
		if name == "careline-overview.json" {
			for _, want := range []string{"Live queue wall", "Service level and abandonment", "IVR funnel", "Dialer", "System health"} {
				if !slices.ContainsFunc(rows, func(r string) bool { return strings.HasPrefix(r, want) }) {
					t.Errorf("%s: no row %q (rows: %q)", name, want, rows)
				}
			}
		}
	}
	// promtool parses every expression (as recording rules: the cheapest file it checks).
	tmp := filepath.Join(t.TempDir(), "dashboard-exprs.yml")
	if err := os.WriteFile(tmp, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", tmp).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules on the dashboard expressions: %v\n%s", err, out)
	}
	t.Logf("%d dashboard expressions checked", nExpr)
}

// The provisioning files are what Grafana expects: a file provider whose files are the
// source of truth, and a Prometheus datasource with a fixed uid.
func TestGrafanaProvisioning(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(repoRoot, "configs", "grafana", "provisioning")
	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Type      string
			DisableDeletion bool `yaml:"disableDeletion"`
			AllowUIUpdates  bool `yaml:"allowUiUpdates"`
			Options         struct{ Path string }
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "dashboards", "careline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &prov); err != nil {
		t.Fatal(err)
	}
	if prov.APIVersion != 1 || len(prov.Providers) != 1 {
		t.Fatalf("dashboards provider: %+v", prov)
	}
	if p := prov.Providers[0]; p.Type != "file" || p.Options.Path == "" || !p.DisableDeletion || p.AllowUIUpdates {
		t.Errorf("dashboards provider %+v: want type file, a path, disableDeletion and no UI updates", p)
	}
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct{ Name, UID, Type, Access, URL string }
	}
	if b, err = os.ReadFile(filepath.Join(dir, "datasources", "prometheus.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &ds); err != nil {
		t.Fatal(err)
	}
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].UID == "" ||
		ds.Datasources[0].Access != "proxy" || ds.Datasources[0].URL == "" {
		t.Errorf("datasource: %+v", ds)
	}
}
