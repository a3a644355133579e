// Package dbtest gives the API's tests real databases: a SQLite file in a
// temporary directory, and a throwaway PostgreSQL cluster started from the
// server binaries installed on the machine (Debian:
// /usr/lib/postgresql/*/bin), on a free loopback port, in a temporary
// directory, stopped when the test binary ends. When no PostgreSQL server
// is installed the PostgreSQL variants skip with a message.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(dbtest.Run(m)) }
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/api/db"
)

// Engine names a database engine under test.
type Engine string

// Engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Engines lists the engines every database test runs on.
var Engines = []Engine{SQLite, Postgres}

type cluster struct {
	dir, bin string
	port     int
	cred     *syscall.Credential
	dsn      string
}

var (
	pgOnce   sync.Once
	pg       *cluster
	pgErr    error
	dbSerial atomic.Int64
)

// Run runs the tests and stops the PostgreSQL cluster if one was started.
func Run(m *testing.M) int {
	code := m.Run()
	if pg != nil {
		pg.stop()
	}
	return code
}

// Open returns a new, empty database of the engine (closed at the end of
// the test); it skips the test when the engine is not available.
func Open(t testing.TB, e Engine) *db.DB {
	t.Helper()
	cfg := db.Config{Path: filepath.Join(t.TempDir(), "test.db")}
	if e == Postgres {
		dsn, err := postgresDatabase()
		if err != nil {
			t.Skipf("PostgreSQL server not available: %v", err)
		}
		cfg = db.Config{PostgresDSN: dsn}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open %s: %v", e, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// postgresDatabase starts the cluster once and creates a fresh database.
func postgresDatabase() (string, error) {
	pgOnce.Do(func() { pg, pgErr = startCluster() })
	if pgErr != nil {
		return "", pgErr
	}
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSerial.Add(1))
	admin, err := sql.Open("pgx", pg.dsn+"/postgres?sslmode=disable")
	if err != nil {
		return "", err
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	return pg.dsn + "/" + name + "?sslmode=disable", nil
}

// serverBin finds the newest installed PostgreSQL server's bin directory.
func serverBin() (string, error) {
	if p := os.Getenv("PHARMATRACE_PG_BIN"); p != "" {
		return p, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("no pg_ctl in /usr/lib/postgresql/*/bin or PATH (install Debian's postgresql package)")
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startCluster() (*cluster, error) {
	bin, err := serverBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pharmatrace-pg-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, bin: bin}
	// initdb and postgres refuse to run as root: run them as "postgres"
	// (created by Debian's package) or "nobody".
	if os.Geteuid() == 0 {
		for _, name := range []string{"postgres", "nobody"} {
			u, err := user.Lookup(name)
			if err != nil {
				continue
			}
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
			if err := os.Chown(dir, uid, gid); err != nil {
				return nil, err
			}
			break
		}
		if c.cred == nil {
			return nil, fmt.Errorf("running as root and no postgres or nobody user to run the server as")
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run("initdb", "-D", data, "-U", "pharmatrace", "--auth=trust", "--no-sync", "--locale=C", "-E", "UTF8"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	for attempt := 0; attempt < 3; attempt++ {
		if c.port, err = freePort(); err != nil {
			return nil, err
		}
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50", c.port, dir)
		var out string
		out, err = c.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "30", "start")
		if err == nil {
			c.dsn = fmt.Sprintf("postgres://pharmatrace@127.0.0.1:%d", c.port)
			return c, nil
		}
		err = fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
	os.RemoveAll(dir)
	return nil, fmt.Errorf("%w; server log: %s", err, strings.TrimSpace(string(log)))
}

func (c *cluster) run(tool string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(c.bin, tool), args...)
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *cluster) stop() {
	_, _ = c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(c.dir)
}
