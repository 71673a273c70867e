package amd_test

import (
	"context"
	"testing"
	"time"

	"github.com/careline/careline/dialer/amd"
	"github.com/careline/careline/dialer/amd/amdcorpus"
)

// BenchmarkCorpus classifies the synthetic corpus and reports its accuracy.
func BenchmarkCorpus(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	samples, err := amdcorpus.Build(ctx, amdcorpus.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var c amd.Confusion
	for b.Loop() {
		c, _ = amd.Evaluate(samples, amd.DefaultOptions())
	}
	b.ReportMetric(100*c.Accuracy(), "accuracy-%")
	for _, truth := range []amd.Result{amd.Human, amd.Machine} {
		for _, got := range amd.Results {
			b.ReportMetric(float64(c.N[truth][got]), truth.String()+"-as-"+got.String())
		}
	}
}

// BenchmarkGreetingEnd measures the beep detector per 20 ms frame (a 33-filter
// Goertzel bank on loud frames).
func BenchmarkGreetingEnd(b *testing.B) {
	frame := build(seg{"voice", 20 * time.Millisecond, 0})
	g := amd.NewGreetingEnd(amd.EndOptions{Timeout: time.Hour})
	for b.Loop() {
		g.Feed(frame)
	}
}
