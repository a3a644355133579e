package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
)

// proc is how fabnet starts one long-running process of the network.
type proc struct {
	node netspec.Node
	bin  string
	args []string
	env  []string
	// ready reports whether the process serves; polled after start.
	ready func(ctx context.Context) error
}

// readPID returns the PID recorded for node if that process is alive and is
// still the program fabnet started (guards against PID reuse).
func readPID(n netspec.Node) (int, bool) {
	pid, ok, _ := readPIDStale(n)
	return pid, ok
}

// readPIDStale is readPID that also reports whether the running process's
// binary has since been replaced on disk (rebuilt), so it should restart.
func readPIDStale(n netspec.Node) (pid int, ok, stale bool) {
	b, err := os.ReadFile(n.PIDFile)
	if err != nil {
		return 0, false, false
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return 0, false, false
	}
	pid, err = strconv.Atoi(fields[0])
	if err != nil || pid <= 0 {
		return 0, false, false
	}
	if syscall.Kill(pid, 0) != nil {
		return 0, false, false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil || strings.TrimSuffix(exe, " (deleted)") != fields[1] {
		return 0, false, false
	}
	return pid, true, strings.HasSuffix(exe, " (deleted)")
}

// start launches p detached (own process group, output to its log file)
// unless it already runs, then waits until it is ready. On failure the error
// names the process and carries the tail of its log.
func start(ctx context.Context, p proc) error {
	if pid, ok, stale := readPIDStale(p.node); ok && !stale {
		log.Debug("already running", "node", p.node.Name, "pid", pid)
		return waitReady(ctx, p, nil)
	} else if stale {
		log.Info("binary rebuilt, restarting", "node", p.node.Name, "pid", pid)
		if _, err := stop(p.node, 10*time.Second, false); err != nil {
			return err
		}
	}
	for _, d := range []string{filepath.Dir(p.node.PIDFile), filepath.Dir(p.node.LogFile), p.node.DataDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("%s: %w", p.node.Name, err)
		}
	}
	logf, err := os.OpenFile(p.node.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s: open log: %w", p.node.Name, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n%s%s %s\n", startMarker, time.Now().UTC().Format(time.RFC3339), p.node.Name)
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Dir = p.node.DataDir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start %s: %w", p.node.Name, p.bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	exe, _ := filepath.Abs(p.bin)
	if err := os.WriteFile(p.node.PIDFile, []byte(fmt.Sprintf("%d %s\n", cmd.Process.Pid, exe)), 0o644); err != nil {
		return fmt.Errorf("%s: write pid file: %w", p.node.Name, err)
	}
	log.Info("started", "node", p.node.Name, "pid", cmd.Process.Pid, "addr", p.node.Address)
	return waitReady(ctx, p, exited)
}

func waitReady(ctx context.Context, p proc, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	ready := p.ready
	if ready == nil {
		ready = func(ctx context.Context) error { return dialable(ctx, p.node.Address) }
	}
	var last error
	for {
		if last = ready(ctx); last == nil {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("%s exited during start-up (%v); last lines of %s:\n%s", p.node.Name, err, p.node.LogFile, tail(p.node.LogFile, 25))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %v; last lines of %s:\n%s", p.node.Name, last, p.node.LogFile, tail(p.node.LogFile, 25))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func dialable(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: 200 * time.Millisecond}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// stop sends SIGTERM to the node's process group, then SIGKILL after grace.
// It returns whether a process was running.
func stop(n netspec.Node, grace time.Duration, kill bool) (bool, error) {
	pid, ok := readPID(n)
	if !ok {
		_ = os.Remove(n.PIDFile)
		return false, nil
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, fmt.Errorf("%s: signal %d: %w", n.Name, pid, err)
	}
	deadline := time.Now().Add(grace)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			deadline = time.Now().Add(5 * time.Second)
			grace = 0
		}
		time.Sleep(20 * time.Millisecond)
	}
	log.Info("stopped", "node", n.Name, "pid", pid, "signal", sig.String())
	return true, os.Remove(n.PIDFile)
}

// alive reports whether pid runs. A zombie (exited, not yet reaped by
// whoever inherited it after fabnet exited) counts as gone.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + string(bytes.Join(lines, []byte("\n  ")))
}

// run executes a short-lived tool and returns its combined output; errors
// carry the command line and output.
func execTool(ctx context.Context, env []string, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(redact(args), " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// redact hides enrollment secrets in URLs of logged command lines.
func redact(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if at := strings.Index(a, "@"); at > 0 && strings.HasPrefix(a, "https://") {
			if colon := strings.Index(a[len("https://"):at], ":"); colon >= 0 {
				a = a[:len("https://")+colon] + ":***" + a[at:]
			}
		}
		out[i] = a
	}
	return out
}
