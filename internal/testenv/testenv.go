// Package testenv gives tests the real services `make test` starts (PostgreSQL, Redis),
// private throwaway PostgreSQL clusters, and free loopback ports. A missing service is a
// test failure that says how to get it, never a skip.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

func need(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run the tests with `make test`, which starts PostgreSQL and Redis", name)
	}
	return v
}

// RandomName returns a short random identifier with the given prefix.
func RandomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// PostgresURL creates a fresh database on the shared test server and returns its URL.
// The database is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := need(t, "CARELINE_TEST_DATABASE_URL")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: connect to %s: %v", redactURL(admin), err)
	}
	defer pool.Close()
	name := RandomName("t_")
	if _, err := pool.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database: %v (is PostgreSQL running? `make test` starts it)", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p, err := pgxpool.New(ctx, admin)
		if err != nil {
			return
		}
		defer p.Close()
		_, _ = p.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	return u.String()
}

// Postgres returns a pool on a fresh database (see PostgresURL), closed at cleanup.
func Postgres(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), PostgresURL(t))
	if err != nil {
		t.Fatalf("testenv: pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// RedisURL returns the shared test Redis URL and a key prefix unique to this test.
func RedisURL(t testing.TB) (string, string) {
	t.Helper()
	return need(t, "CARELINE_TEST_REDIS_URL"), RandomName("t:") + ":"
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

// FreePort returns a port that was free on 127.0.0.1 for network ("tcp" or "udp").
func FreePort(t testing.TB, network string) int {
	t.Helper()
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testenv: free udp port: %v", err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testenv: free tcp port: %v", err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
}

// PGCluster is a private PostgreSQL server a test can stop and start at will.
type PGCluster struct {
	t    testing.TB
	bin  string
	dir  string
	Port int
	URL  string
}

func pgBin(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("CARELINE_TEST_PG_BIN"); b != "" {
		return b
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(m) == 0 {
		t.Fatal("PostgreSQL server binaries not found: `make test` installs postgresql-15")
	}
	return filepath.Dir(m[len(m)-1])
}

func isRoot() bool { return os.Geteuid() == 0 }

func (c *PGCluster) run(args ...string) ([]byte, error) {
	name := filepath.Join(c.bin, args[0])
	var cmd *exec.Cmd
	if isRoot() {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args[1:]...)...)
	} else {
		cmd = exec.Command(name, args[1:]...)
	}
	return cmd.CombinedOutput()
}

// NewPGCluster initialises a private cluster in a temporary directory (initdb takes a
// second or two) and starts it. It is stopped and removed at cleanup.
func NewPGCluster(t testing.TB) *PGCluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "careline-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if isRoot() {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("testenv: no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	c := &PGCluster{t: t, bin: pgBin(t), dir: dir, Port: FreePort(t, "tcp")}
	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", c.Port)
	if out, err := c.run("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("testenv: initdb: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_, _ = c.run("pg_ctl", "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop")
		_ = os.RemoveAll(dir)
	})
	c.Start()
	return c
}

// Start starts the server and waits until it accepts connections.
func (c *PGCluster) Start() {
	c.t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off", c.Port, c.dir)
	if out, err := c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		c.t.Fatalf("testenv: pg_ctl start: %v\n%s\n%s", err, out, tail(string(log), 2000))
	}
}

// Stop stops the server (fast shutdown) and waits until it is down.
func (c *PGCluster) Stop() {
	c.t.Helper()
	if out, err := c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "fast", "-w", "stop"); err != nil {
		c.t.Fatalf("testenv: pg_ctl stop: %v\n%s", err, out)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// Lookup finds a program on PATH or fails the test saying which Debian package has it.
func Lookup(t testing.TB, prog, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Fatalf("%s not found: `make test` installs the Debian package %s", prog, pkg)
	}
	return p
}

// FreeUDPRange finds n consecutive UDP ports on 127.0.0.1, all free when probed, within
// [lo, hi). Keep ranges below the kernel's ephemeral ports (32768+) so that ports the
// kernel hands out to other sockets never land in them.
func FreeUDPRange(t testing.TB, n, lo, hi int) int {
	t.Helper()
	slots := (hi - lo) / n
	for range 500 {
		start := lo + n*mrand.IntN(slots)
		var conns []*net.UDPConn
		ok := true
		for p := start; p < start+n; p++ {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
			if err != nil {
				ok = false
				break
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Close()
		}
		if ok {
			return start
		}
	}
	t.Fatalf("testenv: no %d free UDP ports in %d-%d", n, lo, hi)
	return 0
}
