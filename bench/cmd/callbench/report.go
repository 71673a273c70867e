package main

import (
	"fmt"
	"github.com/careline/careline/bench/internal/host"
	"github.com/careline/careline/bench/internal/readme"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

type machineInfo struct {
	CPU    string `json:"cpu"`
	CPUs   int    `json:"cpus"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	MemGiB int    `json:"mem_gib"`
}

func readMachine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	m.CPU, m.Kernel = host.CPUModel(), host.Kernel()
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.Atoi(f[1])
				m.MemGiB = (kb + 512*1024) / (1024 * 1024)
			}
		}
	}
	return m
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ratio(a, b float64) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }

func sectionMarkers(name string) (begin, end string) { return readme.Markers("callbench", name) }

// renderTable formats medians of the runs, careline beside its baseline.
func renderTable(r results, c config) string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "Measured %s on %s, %d CPUs, %d GiB, kernel %s, %s. Load average %.1f at the start and %.1f at the end (other work shared the machine). Took %s.\n\n",
		r.Started.Format("2006-01-02"), m.CPU, m.CPUs, m.MemGiB, m.Kernel, m.Go, r.LoadEnd[0], r.LoadEnd[1], r.Duration)
	fmt.Fprintf(&b, "Command: `%s` — medians of %d runs; careline and its baseline alternate inside every run, so both see the same background load.\n", r.Command, c.runs)

	if len(r.CPS) > 0 {
		fmt.Fprintf(&b, "\n#### Call setups per second (SIPp `bench/sipp/uac_answer_bye.xml`: INVITE → 200 → ACK → %s of prompt → BYE; %d s of calls per run)\n\n", c.hold, c.cpsSeconds)
		b.WriteString("| target rate | careline achieved | careline failed / retransmissions / calls left up (all runs) | careline setup p50 / p99 | careline CPU (cores) | SIPp UAS achieved | SIPp UAS failed | SIPp UAS setup p99 | achieved careline ÷ SIPp UAS |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
		best := map[string]int{}
		for _, rate := range c.rates {
			var retrans, leftUp int
			for _, x := range r.CPS {
				if x.Target == "careline" && x.Rate == rate {
					retrans += x.Retrans
					leftUp += int(x.LeftUp)
				}
			}
			agg := func(target string) (ach, p50, p99, cpu float64, failed int, clean bool) {
				var a, q50, q99, cp []float64
				clean = true
				for _, x := range r.CPS {
					if x.Target != target || x.Rate != rate {
						continue
					}
					a, q50, q99, cp = append(a, x.Achieved), append(q50, x.P50ms), append(q99, x.P99ms), append(cp, x.CPU)
					failed += x.Failed
					if x.Failed > 0 || x.LeftUp > 0 || x.Achieved < 0.95*float64(rate) {
						clean = false
					}
				}
				if len(a) == 0 {
					clean = false
				}
				return median(a), median(q50), median(q99), median(cp), failed, clean
			}
			ca, c50, c99, ccpu, cf, cclean := agg("careline")
			ua, _, u99, _, uf, uclean := agg("sipp-uas")
			if cclean {
				best["careline"] = rate
			}
			if uclean {
				best["sipp-uas"] = rate
			}
			fmt.Fprintf(&b, "| %d/s | %.0f/s | %d / %d / %d | %.0f / %.0f ms | %.2f | %.0f/s | %d | %.0f ms | %s |\n",
				rate, ca, cf, retrans, leftUp, c50, c99, ccpu, ua, uf, u99, ratio(ca, ua))
		}
		fmt.Fprintf(&b, "\nHighest rate with 0 failed calls and no call left up in every run, and ≥ 95 %% of the target rate achieved: **careline %s**, SIPp's own UAS %s (goal ≥ 800/s; SIPp UAC and the target share the 2 cores).\n",
			rateOrNone(best["careline"]), rateOrNone(best["sipp-uas"]))
	}

	if len(r.Load) > 0 {
		audio := "the load phones only listen (one DTMF digit each)"
		if c.callerAudio {
			audio = "the load phones also send 50 packets/s of silence on every call"
		}
		// Idle heap: the lowest pre-ramp sample of the whole invocation (an idle Go heap
		// keeps garbage until the next collection).
		minIdle := map[string]float64{}
		for _, x := range r.Load {
			if v, ok := minIdle[x.Target]; !ok || x.HeapIdle < v {
				minIdle[x.Target] = x.HeapIdle
			}
		}
		perCall := func(x loadResult) float64 {
			if x.Established == 0 {
				return 0
			}
			return (x.HeapLoaded - minIdle[x.Target]) / float64(x.Established)
		}
		fmt.Fprintf(&b, "\n#### Concurrent calls playing a prompt (load generator: the `phone` package inside the callbench process; %s; ramp %d calls/s; gaps between RTP packets measured for %s at the receiving phones)\n\n", audio, c.ramp, c.window)
		b.WriteString("| N | careline calls up | DTMF detected by careline / echoed back | RTP gap p50 / p99 / p99.9 / max | packets received | careline CPU (cores) | generator CPU (cores) | machine busy | careline heap per call | baseline gap p99 / max | baseline CPU (cores) | baseline heap per call | gap p99 careline ÷ baseline |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		heapAt := map[string][][2]float64{}
		for _, n := range c.levels {
			pick := func(target string, f func(loadResult) float64) float64 {
				var v []float64
				for _, x := range r.Load {
					if x.Target == target && x.N == n {
						v = append(v, f(x))
					}
				}
				return median(v)
			}
			cl := func(f func(loadResult) float64) float64 { return pick("careline", f) }
			bl := func(f func(loadResult) float64) float64 { return pick("phone-uas", f) }
			p99 := func(x loadResult) float64 { return x.GapP99 }
			for _, tg := range []string{"careline", "phone-uas"} {
				heapAt[tg] = append(heapAt[tg], [2]float64{float64(n), pick(tg, func(x loadResult) float64 { return x.HeapLoaded })})
			}
			fmt.Fprintf(&b, "| %d | %.0f | %.0f / %.0f | %.1f / %.1f / %.1f / %.0f ms | %.1f %% | %.2f | %.2f | %.0f %% | %s | %.1f / %.0f ms | %.2f | %s | %s |\n",
				n, cl(func(x loadResult) float64 { return float64(x.Established) }),
				cl(func(x loadResult) float64 { return x.DTMFDetected }), cl(func(x loadResult) float64 { return float64(x.DTMFEchoed) }),
				cl(func(x loadResult) float64 { return x.GapP50 }), cl(p99), cl(func(x loadResult) float64 { return x.GapP999 }),
				cl(func(x loadResult) float64 { return x.GapMax }),
				cl(func(x loadResult) float64 { return 100 * float64(x.Packets) / max(x.Expected, 1) }),
				cl(func(x loadResult) float64 { return x.TargetCPU }), cl(func(x loadResult) float64 { return x.GenCPU }),
				cl(func(x loadResult) float64 { return 100 * x.MachineBusy }),
				kib(cl(perCall)),
				bl(p99), bl(func(x loadResult) float64 { return x.GapMax }), bl(func(x loadResult) float64 { return x.TargetCPU }),
				kib(bl(perCall)), ratio(cl(p99), bl(p99)))
		}
		var left []string
		for _, x := range r.Load {
			if x.LeftUp > 0 {
				left = append(left, fmt.Sprintf("%s N=%d: %.0f", x.Target, x.N, x.LeftUp))
			}
		}
		if len(left) > 0 {
			fmt.Fprintf(&b, "\nCalls still up 45 s after every load phone had hung up (BYE lost or unanswered under load): %s.\n", strings.Join(left, "; "))
		}
		if len(c.levels) >= 2 {
			fmt.Fprintf(&b, "\nHeap per call from the slope of heap in use over N (least squares over the medians; less sensitive to garbage than the idle difference): careline %s, baseline %s.\n",
				kib(slope(heapAt["careline"])), kib(slope(heapAt["phone-uas"])))
		}
	}
	return b.String()
}

func rateOrNone(r int) string {
	if r == 0 {
		return "none of the rates tried"
	}
	return fmt.Sprintf("%d/s", r)
}

// replaceSection puts table between the generated-section markers of path.
func replaceSection(path, name, table string) error {
	return readme.Replace(path, "callbench", name, table)
}

// slope is the least-squares slope of y over x.
func slope(pts [][2]float64) float64 {
	if len(pts) < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for _, p := range pts {
		sx, sy, sxx, sxy = sx+p[0], sy+p[1], sxx+p[0]*p[0], sxy+p[0]*p[1]
	}
	n := float64(len(pts))
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}
