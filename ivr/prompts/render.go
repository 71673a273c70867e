package prompts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrToolMissing is matched when espeak-ng or sox cannot be found.
var ErrToolMissing = errors.New("prompts: required tool missing")

// ErrUnknownVoice is matched when espeak-ng lacks a voice the manifest names
// (espeak-ng itself would silently fall back to its default voice).
var ErrUnknownVoice = errors.New("prompts: unknown espeak-ng voice")

// Output format and processing. Changing any of these changes every input hash,
// so the next Render re-renders every generated prompt.
const (
	SampleRate = 8000
	Channels   = 1
	BitDepth   = 16
)

var (
	soxOutput = []string{"-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"}
	// Trim leading/trailing silence, normalise with headroom, telephone band,
	// normalise to -4 dBFS peak, then a 100 ms lead-in and a 50 ms tail.
	speechEffects = []string{
		"silence", "1", "0.01", "0.1%", "reverse", "silence", "1", "0.01", "0.1%", "reverse",
		"gain", "-n", "-6", "highpass", "300", "lowpass", "3400", "gain", "-n", "-4", "pad", "0.1", "0.05",
	}
)

const pipelineVersion = "careline-prompts/1"

// RenderOptions are the parameters of one Render call.
type RenderOptions struct {
	// Force re-renders generated prompts even when up to date or replaced by
	// hand. Recorded prompts are never written, even with Force.
	Force bool
	// Langs limits rendering to these languages (default: all).
	Langs []string
	// IDs limits rendering to these ids; an entry ending in "/" is a prefix
	// ("num/"). Default: all.
	IDs []string
	// DryRun reports what would be rendered without running any tool or writing.
	DryRun bool
	// Jobs is the number of parallel renders (default GOMAXPROCS).
	Jobs int
	// Espeak and Sox name the binaries (default "espeak-ng" and "sox" on PATH).
	Espeak, Sox string
	// Logger receives one line per rendered prompt (default: discard).
	Logger *slog.Logger
}

// Report says what Render did. Lists hold "<lang>/<id>" keys, sorted.
type Report struct {
	Rendered []string // written (or, with DryRun, to be written)
	UpToDate int      // already current
	Recorded []string // recorded audio present: left alone
	// MissingRecorded are prompts marked recorded whose file is absent: they
	// are never rendered; supply the recording.
	MissingRecorded []string
	// Modified are generated files that differ from what the lock says was
	// rendered (replaced or edited by hand): left alone unless Force.
	Modified []string
	// Orphans are WAV files below the language folders that no entry names.
	Orphans []string
	// Files, Bytes and Audio describe all manifest WAVs present after the run.
	Files int
	Bytes int64
	Audio time.Duration
}

// String summarises the report in one line.
func (r Report) String() string {
	return fmt.Sprintf("rendered %d, up to date %d, recorded %d, missing recorded %d, modified %d, orphans %d; %d files, %.1f MB, %s of audio",
		len(r.Rendered), r.UpToDate, len(r.Recorded), len(r.MissingRecorded), len(r.Modified), len(r.Orphans),
		r.Files, float64(r.Bytes)/1e6, r.Audio.Round(time.Second))
}

// InputHash identifies everything that determines an entry's generated audio.
func InputHash(e Entry) string {
	h := sha256.New()
	for _, part := range []string{pipelineVersion, e.Kind.String(), e.Voice, strconv.Itoa(e.Speed),
		strconv.FormatBool(e.SSML), e.TTS, strings.Join(e.Sox, " "), strings.Join(soxOutput, " "),
		strings.Join(speechEffects, " ")} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

func (o RenderOptions) wants(e Entry) bool {
	if len(o.Langs) > 0 && !slices.Contains(o.Langs, e.Lang) {
		return false
	}
	if len(o.IDs) == 0 {
		return true
	}
	for _, id := range o.IDs {
		if id == e.ID || (strings.HasSuffix(id, "/") && strings.HasPrefix(e.ID, id)) {
			return true
		}
	}
	return false
}

// RenderFile loads the manifest at manifestPath and renders it into outDir
// (what `careline prompts render` runs, with DefaultManifestPath and DefaultOutDir).
func RenderFile(ctx context.Context, manifestPath, outDir string, opts RenderOptions) (Report, error) {
	m, err := Load(manifestPath)
	if err != nil {
		return Report{}, err
	}
	return Render(ctx, m, outDir, opts)
}

type job struct {
	e    Entry
	in   string
	path string
}

// Render brings outDir up to date with the manifest: it renders every selected
// generated entry whose file is missing or stale, and updates outDir/manifest.lock.
// It stops at the first failed render (the lock still records what succeeded)
// and returns the errors together with the report so far.
func Render(ctx context.Context, m *Manifest, outDir string, opts RenderOptions) (Report, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lockPath := filepath.Join(outDir, LockFileName)
	lock, err := readLock(lockPath)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	var jobs []job
	for _, e := range m.Entries() {
		key, path := e.Key(), e.Path(outDir)
		if e.Recorded {
			delete(lock, key)
		}
		if !opts.wants(e) {
			continue
		}
		exists, fh, err := stat(path)
		if err != nil {
			return rep, err
		}
		in := InputHash(e)
		le, locked := lock[key]
		switch {
		case e.Recorded && exists:
			rep.Recorded = append(rep.Recorded, key)
		case e.Recorded:
			rep.MissingRecorded = append(rep.MissingRecorded, key)
		case opts.Force || !exists:
			jobs = append(jobs, job{e, in, path})
		case !locked || le.out != fh:
			rep.Modified = append(rep.Modified, key)
		case le.in != in:
			jobs = append(jobs, job{e, in, path})
		default:
			rep.UpToDate++
		}
	}
	for _, j := range jobs {
		rep.Rendered = append(rep.Rendered, j.e.Key())
	}
	if len(jobs) > 0 && !opts.DryRun {
		var rendered map[string]lockEntry
		rendered, err = run(ctx, jobs, outDir, opts, log)
		for k, le := range rendered {
			lock[k] = le
		}
		rep.Rendered = sortedKeys(rendered)
	}
	// Drop lock lines of entries that no longer exist.
	for k := range lock {
		lang, id, _ := strings.Cut(k, "/")
		if !m.Has(lang, id) {
			delete(lock, k)
		}
	}
	if !opts.DryRun {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return rep, fmt.Errorf("prompts: %w", err)
		}
		if werr := writeLock(lockPath, lock); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	if serr := rep.survey(m, outDir); serr != nil {
		err = errors.Join(err, serr)
	}
	return rep, err
}

func stat(path string) (exists bool, hash string, err error) {
	hash, err = fileHash(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("prompts: %w", err)
	}
	return true, hash, nil
}

// tools resolves the binaries the jobs need, with a clear error if one is missing.
func tools(jobs []job, opts RenderOptions) (espeak, sox string, err error) {
	look := func(name, def, pkg string) (string, error) {
		if name == "" {
			name = def
		}
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("%w: %s not found (%q): install the Debian package %s, or set the binary path in RenderOptions: %w",
				ErrToolMissing, def, name, pkg, err)
		}
		return p, nil
	}
	if sox, err = look(opts.Sox, "sox", "sox"); err != nil {
		return "", "", err
	}
	if slices.ContainsFunc(jobs, func(j job) bool { return j.e.Kind == Speech }) {
		if espeak, err = look(opts.Espeak, "espeak-ng", "espeak-ng"); err != nil {
			return "", "", err
		}
	}
	return espeak, sox, nil
}

// checkVoices asks espeak-ng for its voices and rejects any job voice it lacks.
func checkVoices(ctx context.Context, espeak string, jobs []job) error {
	out, err := exec.CommandContext(ctx, espeak, "--voices").Output()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("prompts: espeak-ng --voices: %w", context.Cause(ctx))
		}
		return fmt.Errorf("prompts: espeak-ng --voices: %w", err)
	}
	known := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		for _, name := range []string{f[1], f[3], f[4], filepath.Base(f[4])} {
			known[strings.ToLower(name)] = true
		}
	}
	var errs []error
	seen := map[string]bool{}
	for _, j := range jobs {
		v := j.e.Voice
		if j.e.Kind != Speech || seen[v] {
			continue
		}
		seen[v] = true
		base, _, _ := strings.Cut(v, "+") // "en-us+f3": voice plus variant
		if !known[strings.ToLower(base)] {
			errs = append(errs, fmt.Errorf("%w: %q (used by %s; see espeak-ng --voices)", ErrUnknownVoice, v, j.e.Key()))
		}
	}
	return errors.Join(errs...)
}

func run(ctx context.Context, jobs []job, outDir string, opts RenderOptions, log *slog.Logger) (map[string]lockEntry, error) {
	espeak, sox, err := tools(jobs, opts)
	if err != nil {
		return nil, err
	}
	if espeak != "" {
		if err := checkVoices(ctx, espeak, jobs); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("prompts: %w", err)
	}
	tmp, err := os.MkdirTemp(outDir, ".render-")
	if err != nil {
		return nil, fmt.Errorf("prompts: %w", err)
	}
	defer os.RemoveAll(tmp)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	n := opts.Jobs
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	var (
		mu       sync.Mutex
		rendered = map[string]lockEntry{}
		errs     []error
		wg       sync.WaitGroup
		queue    = make(chan int)
	)
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range queue {
				j := jobs[i]
				if ctx.Err() != nil {
					continue
				}
				started := time.Now()
				fh, err := renderOne(ctx, j, espeak, sox, filepath.Join(tmp, strconv.Itoa(i)))
				mu.Lock()
				if err != nil {
					if ctx.Err() == nil { // later failures are fallout of the first
						errs = append(errs, err)
						cancel(err)
					}
				} else {
					rendered[j.e.Key()] = lockEntry{in: j.in, out: fh}
				}
				mu.Unlock()
				if err == nil {
					log.Info("prompt rendered", "prompt", j.e.Key(), "kind", j.e.Kind.String(),
						"elapsed", time.Since(started).Round(time.Millisecond))
				}
			}
		}()
	}
feed:
	for i := range jobs {
		select {
		case queue <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	if len(errs) == 0 && ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("prompts: render: %w", context.Cause(ctx)))
	}
	return rendered, errors.Join(errs...)
}

// renderOne produces one WAV and moves it into place; it returns the file hash.
func renderOne(ctx context.Context, j job, espeak, sox, scratch string) (string, error) {
	out := scratch + ".wav"
	var args []string
	if j.e.Kind == Generated {
		args = append([]string{"-D", "-R", "-n"}, soxOutput...)
		args = append(append(args, out), j.e.Sox...)
	} else {
		raw := scratch + ".raw.wav"
		eargs := []string{"-v", j.e.Voice, "-s", strconv.Itoa(j.e.Speed), "-w", raw, "--stdin"}
		if j.e.SSML {
			eargs = append(eargs, "-m")
		}
		if err := runTool(ctx, espeak, eargs, j.e.TTS); err != nil {
			return "", fmt.Errorf("prompts: %s: %w", j.e.Key(), err)
		}
		args = append([]string{"-D", "-R", raw}, soxOutput...)
		args = append(append(args, out), speechEffects...)
	}
	if err := runTool(ctx, sox, args, ""); err != nil {
		return "", fmt.Errorf("prompts: %s: %w", j.e.Key(), err)
	}
	info, err := readWAVInfo(out)
	if err != nil {
		return "", fmt.Errorf("prompts: %s: sox output: %w", j.e.Key(), err)
	}
	if info.Rate != SampleRate || info.Channels != Channels || info.Bits != BitDepth || info.DataBytes == 0 {
		return "", fmt.Errorf("prompts: %s: sox produced %s, want %d Hz mono %d-bit PCM with audio", j.e.Key(), info, SampleRate, BitDepth)
	}
	if err := os.MkdirAll(filepath.Dir(j.path), 0o755); err != nil {
		return "", fmt.Errorf("prompts: %w", err)
	}
	if err := os.Chmod(out, 0o644); err != nil {
		return "", fmt.Errorf("prompts: %w", err)
	}
	if err := os.Rename(out, j.path); err != nil {
		return "", fmt.Errorf("prompts: %w", err)
	}
	return fileHash(j.path)
}

func runTool(ctx context.Context, bin string, args []string, stdin string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 2 * time.Second
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", filepath.Base(bin), context.Cause(ctx))
		}
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), strings.Join(args, " "), err, msg)
	}
	return nil
}

// survey fills the file totals and orphan list after a run.
func (r *Report) survey(m *Manifest, outDir string) error {
	known := map[string]bool{}
	for _, e := range m.Entries() {
		known[e.Key()] = true
		info, err := readWAVInfo(e.Path(outDir))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("prompts: %s: %w", e.Key(), err)
		}
		r.Files++
		r.Bytes += info.FileBytes
		r.Audio += info.Duration()
	}
	for _, l := range m.Langs() {
		root := filepath.Join(outDir, l)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return nil
				}
				return err
			}
			if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != root {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".wav") {
				return nil
			}
			rel, err := filepath.Rel(outDir, p)
			if err != nil {
				return err
			}
			key := strings.TrimSuffix(filepath.ToSlash(rel), ".wav")
			if !known[key] {
				r.Orphans = append(r.Orphans, key)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("prompts: scan %s: %w", root, err)
		}
	}
	slices.Sort(r.Orphans)
	return nil
}

// Verify checks, without any tool, that outDir matches the manifest: every
// entry has a valid 8 kHz mono 16-bit WAV, and every generated one is what the
// lock says was rendered from the current inputs (not stale, not edited by
// hand). Recorded prompts only need a valid file. CI runs it.
func Verify(m *Manifest, outDir string) error {
	lock, err := readLock(filepath.Join(outDir, LockFileName))
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range m.Entries() {
		path := e.Path(outDir)
		info, err := readWAVInfo(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.Key(), err))
			continue
		}
		if info.Rate != SampleRate || info.Channels != Channels || info.Bits != BitDepth || info.DataBytes == 0 {
			errs = append(errs, fmt.Errorf("%s: %s, want %d Hz mono %d-bit PCM with audio", e.Key(), info, SampleRate, BitDepth))
			continue
		}
		if e.Recorded {
			continue
		}
		le, ok := lock[e.Key()]
		fh, herr := fileHash(path)
		switch {
		case herr != nil:
			errs = append(errs, fmt.Errorf("%s: %w", e.Key(), herr))
		case !ok:
			errs = append(errs, fmt.Errorf("%s: not in %s (run careline prompts render)", e.Key(), LockFileName))
		case le.in != InputHash(e):
			errs = append(errs, fmt.Errorf("%s: stale: the manifest changed since it was rendered (run careline prompts render)", e.Key()))
		case le.out != fh:
			errs = append(errs, fmt.Errorf("%s: file differs from the rendered one (mark it recorded: true, or render with force)", e.Key()))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("prompts: %s does not match the manifest: %w", outDir, errors.Join(errs...))
	}
	return nil
}
