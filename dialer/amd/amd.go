// Package amd tells a person from an answering machine in the first seconds of an
// answered call, and finds the end of a machine's greeting (the beep, or silence after
// speech) so a voicemail starts after the tone. It works on 20 ms frames of 8 kHz
// 16-bit PCM and is pure computation: callers feed frames as they arrive.
//
// The answer detector follows the energy and word-timing rules of Asterisk's app_amd
// (the same parameters and defaults, re-implemented from their documented meaning):
//
//   - a frame is silent when its mean absolute sample value is below SilenceThreshold;
//   - a "word" starts after MinWordLength of consecutive voice and ends after
//     BetweenWordsSilence of silence;
//   - silence for InitialSilence before any word: Machine (cause initial_silence);
//   - total voice since the first word reaching Greeting: Machine (long_greeting);
//   - more than MaxWords words: Machine (max_words); one word longer than
//     MaxWordLength: Machine (max_word_length);
//   - after at least one word, AfterGreetingSilence of silence: Human (the caller said
//     something short and is waiting for an answer);
//   - nothing decided within TotalAnalysisTime: Unsure (treated as a person).
//
// Decisions carry GreetingEnd, the audio time at which the caller stopped speaking,
// from which the dialer counts the 2 s it has to connect an agent.
package amd

import (
	"fmt"
	"math"
	"time"
)

// Result is what the detector concluded.
type Result int

// The results.
const (
	Human Result = iota
	Machine
	Unsure
)

// Results lists every result, for metrics and confusion matrices.
var Results = [...]Result{Human, Machine, Unsure}

func (r Result) String() string {
	switch r {
	case Human:
		return "human"
	case Machine:
		return "machine"
	case Unsure:
		return "unsure"
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// Cause says which rule decided.
type Cause string

// The causes (names follow app_amd's AMDCAUSE).
const (
	CauseHuman          Cause = "human"
	CauseInitialSilence Cause = "initial_silence"
	CauseLongGreeting   Cause = "long_greeting"
	CauseMaxWords       Cause = "max_words"
	CauseMaxWordLength  Cause = "max_word_length"
	CauseTooLong        Cause = "too_long"
)

// FrameDuration is the frame length the detectors expect (any length works; times are
// counted from the samples).
const FrameDuration = 20 * time.Millisecond

// SampleRate is the audio rate the detectors expect.
const SampleRate = 8000

// DetectorOptions are the answer detector's parameters (app_amd's names and defaults).
type DetectorOptions struct {
	InitialSilence       time.Duration
	Greeting             time.Duration
	AfterGreetingSilence time.Duration
	TotalAnalysisTime    time.Duration
	MinWordLength        time.Duration
	BetweenWordsSilence  time.Duration
	MaxWordLength        time.Duration
	MaxWords             int
	// SilenceThreshold is the mean absolute sample value (0-32767) under which a frame
	// is silence.
	SilenceThreshold int
}

// DefaultOptions returns app_amd's defaults with at most 3 words.
func DefaultOptions() DetectorOptions {
	return DetectorOptions{
		InitialSilence:       2500 * time.Millisecond,
		Greeting:             1500 * time.Millisecond,
		AfterGreetingSilence: 800 * time.Millisecond,
		TotalAnalysisTime:    5000 * time.Millisecond,
		MinWordLength:        100 * time.Millisecond,
		BetweenWordsSilence:  50 * time.Millisecond,
		MaxWordLength:        5000 * time.Millisecond,
		MaxWords:             3,
		SilenceThreshold:     256,
	}
}

// String summarises the options.
func (o DetectorOptions) String() string {
	return fmt.Sprintf("amd(initial=%s greeting=%s after=%s total=%s word=%s gap=%s maxwords=%d thr=%d)",
		o.InitialSilence, o.Greeting, o.AfterGreetingSilence, o.TotalAnalysisTime, o.MinWordLength,
		o.BetweenWordsSilence, o.MaxWords, o.SilenceThreshold)
}

// Decision is the detector's conclusion.
type Decision struct {
	Result Result
	Cause  Cause
	// At is the audio time of the decision, from the first frame.
	At time.Duration
	// GreetingEnd is the audio time the caller last stopped speaking (At if still
	// speaking or never spoke).
	GreetingEnd time.Duration
	Words       int
	Voice       time.Duration // total voiced time since the first word
}

// String formats the decision for logs.
func (d Decision) String() string {
	return fmt.Sprintf("%s (%s) at %s, %d words, %s voice", d.Result, d.Cause, d.At, d.Words, d.Voice)
}

func samplesDur(n int) time.Duration { return time.Duration(n) * time.Second / SampleRate }

// Level returns the mean absolute sample value of a frame.
func Level(frame []int16) int {
	if len(frame) == 0 {
		return 0
	}
	var sum int64
	for _, s := range frame {
		v := int64(s)
		if v < 0 {
			v = -v
		}
		sum += v
	}
	return int(sum / int64(len(frame)))
}

// Detector is the answer detector. It is not safe for concurrent use; use one per call.
type Detector struct {
	o            DetectorOptions
	elapsed      time.Duration
	silence      time.Duration // consecutive silence
	consecVoice  time.Duration // consecutive voice
	voice        time.Duration // voice since the first word
	words        int
	inWord       bool
	greeting     bool // a word has been heard
	lastVoiceEnd time.Duration
	done         bool
	dec          Decision
}

// NewDetector returns a detector with o (zero fields take DefaultOptions values).
func NewDetector(o DetectorOptions) *Detector {
	def := DefaultOptions()
	fill := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	fill(&o.InitialSilence, def.InitialSilence)
	fill(&o.Greeting, def.Greeting)
	fill(&o.AfterGreetingSilence, def.AfterGreetingSilence)
	fill(&o.TotalAnalysisTime, def.TotalAnalysisTime)
	fill(&o.MinWordLength, def.MinWordLength)
	fill(&o.BetweenWordsSilence, def.BetweenWordsSilence)
	fill(&o.MaxWordLength, def.MaxWordLength)
	if o.MaxWords <= 0 {
		o.MaxWords = def.MaxWords
	}
	if o.SilenceThreshold <= 0 {
		o.SilenceThreshold = def.SilenceThreshold
	}
	return &Detector{o: o}
}

// String names the detector (a stage of the media chain).
func (d *Detector) String() string { return d.o.String() }

func (d *Detector) decide(r Result, c Cause) (Decision, bool) {
	end := d.lastVoiceEnd
	if d.inWord || !d.greeting {
		end = d.elapsed
	}
	d.done = true
	d.dec = Decision{Result: r, Cause: c, At: d.elapsed, GreetingEnd: end, Words: d.words, Voice: d.voice}
	return d.dec, true
}

// Feed consumes one frame and returns the decision once there is one (and the same
// decision for every later frame).
func (d *Detector) Feed(frame []int16) (Decision, bool) {
	if d.done {
		return d.dec, true
	}
	dur := samplesDur(len(frame))
	d.elapsed += dur
	if Level(frame) < d.o.SilenceThreshold {
		d.silence += dur
		d.consecVoice = 0
		if d.inWord && d.silence >= d.o.BetweenWordsSilence {
			d.inWord = false
		}
		if !d.greeting && d.silence >= d.o.InitialSilence {
			return d.decide(Machine, CauseInitialSilence)
		}
		if d.greeting && d.silence >= d.o.AfterGreetingSilence {
			return d.decide(Human, CauseHuman)
		}
	} else {
		d.consecVoice += dur
		if d.greeting {
			d.voice += dur
		}
		if !d.inWord && d.consecVoice >= d.o.MinWordLength {
			d.inWord = true
			d.words++
			if !d.greeting {
				d.greeting = true
				d.voice = d.consecVoice
			}
			if d.words > d.o.MaxWords {
				return d.decide(Machine, CauseMaxWords)
			}
		}
		if d.consecVoice >= d.o.MaxWordLength {
			return d.decide(Machine, CauseMaxWordLength)
		}
		if d.greeting && d.voice >= d.o.Greeting {
			return d.decide(Machine, CauseLongGreeting)
		}
		if d.inWord {
			d.silence = 0
			d.lastVoiceEnd = d.elapsed
		}
	}
	if d.elapsed >= d.o.TotalAnalysisTime {
		return d.decide(Unsure, CauseTooLong)
	}
	return Decision{}, false
}

// ---- end of a machine greeting ----

// EndReason says how the end of a greeting was found.
type EndReason string

// The reasons.
const (
	EndBeep    EndReason = "beep"
	EndSilence EndReason = "silence"
	EndTimeout EndReason = "timeout"
)

// EndOptions configures GreetingEnd.
type EndOptions struct {
	// Silence after speech that ends a greeting with no beep (default 2s).
	EndSilence time.Duration
	// Timeout caps the wait (default 20s).
	Timeout time.Duration
	// SilenceThreshold as in DetectorOptions (default 256).
	SilenceThreshold int
	// MinBeep is how long a steady tone must last to be a beep (default 120ms).
	MinBeep time.Duration
	// ToneRatio is the share of a frame's energy that must sit at one tone frequency
	// (default 0.8).
	ToneRatio float64
}

// DefaultEndOptions returns the defaults.
func DefaultEndOptions() EndOptions {
	return EndOptions{EndSilence: 2 * time.Second, Timeout: 20 * time.Second, SilenceThreshold: 256,
		MinBeep: 120 * time.Millisecond, ToneRatio: 0.8}
}

// End is where the greeting ended.
type End struct {
	Reason EndReason
	At     time.Duration // audio time from the first frame fed to GreetingEnd
	ToneHz float64       // the beep's frequency (EndBeep)
}

// GreetingEnd waits for a machine greeting to end: a beep (a steady tone, found with a
// Goertzel filter bank from 400 to 2000 Hz) followed by its end, or EndSilence of
// silence after speech, or Timeout. Use one per call.
type GreetingEnd struct {
	o        EndOptions
	bank     []goertzel
	elapsed  time.Duration
	heard    bool
	silence  time.Duration
	toneBin  int
	toneFor  time.Duration
	beeping  bool
	beepFreq float64
}

type goertzel struct {
	freq  float64
	coeff float64
}

// NewGreetingEnd returns a greeting-end detector (zero fields take defaults).
func NewGreetingEnd(o EndOptions) *GreetingEnd {
	def := DefaultEndOptions()
	if o.EndSilence <= 0 {
		o.EndSilence = def.EndSilence
	}
	if o.Timeout <= 0 {
		o.Timeout = def.Timeout
	}
	if o.SilenceThreshold <= 0 {
		o.SilenceThreshold = def.SilenceThreshold
	}
	if o.MinBeep <= 0 {
		o.MinBeep = def.MinBeep
	}
	if o.ToneRatio <= 0 {
		o.ToneRatio = def.ToneRatio
	}
	g := &GreetingEnd{o: o, toneBin: -1}
	for f := 400.0; f <= 2000; f += 50 {
		g.bank = append(g.bank, goertzel{freq: f, coeff: 2 * math.Cos(2*math.Pi*f/SampleRate)})
	}
	return g
}

// String names the stage.
func (g *GreetingEnd) String() string {
	return fmt.Sprintf("greeting-end(silence=%s timeout=%s)", g.o.EndSilence, g.o.Timeout)
}

// ToneShare returns the largest share of the frame's energy at one frequency of the
// bank, and that frequency's index. A pure tone on a bank frequency gives about 1.
func (g *GreetingEnd) toneShare(frame []int16) (float64, int) {
	var energy float64
	for _, s := range frame {
		energy += float64(s) * float64(s)
	}
	if energy == 0 || len(frame) == 0 {
		return 0, -1
	}
	best, bi := 0.0, -1
	for i, b := range g.bank {
		var s1, s2 float64
		for _, x := range frame {
			s0 := float64(x) + b.coeff*s1 - s2
			s2, s1 = s1, s0
		}
		p := s1*s1 + s2*s2 - b.coeff*s1*s2
		if share := 2 * p / (float64(len(frame)) * energy); share > best {
			best, bi = share, i
		}
	}
	return best, bi
}

// Feed consumes one frame and reports the end of the greeting once found.
func (g *GreetingEnd) Feed(frame []int16) (End, bool) {
	dur := samplesDur(len(frame))
	g.elapsed += dur
	loud := Level(frame) >= g.o.SilenceThreshold
	share, bin := 0.0, -1
	if loud {
		share, bin = g.toneShare(frame)
	}
	tone := share >= g.o.ToneRatio
	switch {
	case tone && (g.toneBin < 0 || abs(bin-g.toneBin) <= 1):
		g.toneFor += dur
		g.toneBin = bin
		if g.toneFor >= g.o.MinBeep {
			g.beeping, g.beepFreq = true, g.bank[bin].freq
		}
	case g.beeping:
		// the tone stopped: the greeting is over
		return End{Reason: EndBeep, At: g.elapsed - dur, ToneHz: g.beepFreq}, true
	default:
		g.toneFor, g.toneBin = 0, -1
		if tone {
			g.toneFor, g.toneBin = dur, bin
		}
	}
	if loud {
		g.heard = true
		g.silence = 0
	} else {
		g.silence += dur
		if g.heard && g.silence >= g.o.EndSilence {
			return End{Reason: EndSilence, At: g.elapsed}, true
		}
	}
	if g.elapsed >= g.o.Timeout {
		return End{Reason: EndTimeout, At: g.elapsed}, true
	}
	return End{}, false
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// ---- confusion matrix ----

// Confusion counts detector results against the truth. Truth is Human or Machine;
// Unsure results are counted as their own column and scored as Human (the dialer
// treats them as a person).
type Confusion struct {
	N [2][3]int // [truth][result]
}

// Add records one sample.
func (c *Confusion) Add(truth, got Result) {
	if truth != Human && truth != Machine {
		return
	}
	c.N[truth][got]++
}

// Total returns the number of samples.
func (c *Confusion) Total() int {
	n := 0
	for _, row := range c.N {
		for _, v := range row {
			n += v
		}
	}
	return n
}

// Accuracy is the share of samples scored right (Unsure counts as Human).
func (c *Confusion) Accuracy() float64 {
	t := c.Total()
	if t == 0 {
		return 0
	}
	right := c.N[Human][Human] + c.N[Human][Unsure] + c.N[Machine][Machine]
	return float64(right) / float64(t)
}

// String prints the matrix.
func (c *Confusion) String() string {
	s := fmt.Sprintf("%-14s %7s %7s %7s\n", "truth \\ result", "human", "machine", "unsure")
	for _, tr := range []Result{Human, Machine} {
		s += fmt.Sprintf("%-14s %7d %7d %7d\n", tr, c.N[tr][Human], c.N[tr][Machine], c.N[tr][Unsure])
	}
	s += fmt.Sprintf("accuracy %.1f%% of %d (unsure scored as human)", 100*c.Accuracy(), c.Total())
	return s
}

// Sample is one labelled recording: 8 kHz 16-bit mono PCM from the moment of answer.
type Sample struct {
	Name  string
	Truth Result
	PCM   []int16
	// BeepEnd is where a machine sample's beep ends (0 if none), to check GreetingEnd.
	BeepEnd time.Duration
}

// Classify runs the detector over a whole recording in 20 ms frames; audio that ends
// before a decision gives Unsure (too_long).
func Classify(pcm []int16, o DetectorOptions) Decision {
	d := NewDetector(o)
	const n = SampleRate / 50
	for i := 0; i < len(pcm); i += n {
		if dec, ok := d.Feed(pcm[i:min(i+n, len(pcm))]); ok {
			return dec
		}
	}
	for {
		if dec, ok := d.Feed(make([]int16, n)); ok {
			return dec
		}
	}
}

// Evaluate classifies every sample and returns the confusion matrix and each decision.
func Evaluate(samples []Sample, o DetectorOptions) (Confusion, []Decision) {
	var c Confusion
	out := make([]Decision, len(samples))
	for i, s := range samples {
		out[i] = Classify(s.PCM, o)
		c.Add(s.Truth, out[i].Result)
	}
	return c, out
}
