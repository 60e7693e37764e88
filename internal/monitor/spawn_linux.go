package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Run is the monitor process's main: it holds the root's lock, serves its
// socket and ignores SIGTERM and SIGINT while it holds containers (their
// stdio would go with it).
func Run(ctx context.Context, root string, log *slog.Logger) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("monitor root: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(root, "monitor.lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("monitor lock: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("another monitor holds %s: %w", root, err)
	}
	pidFile := filepath.Join(root, "monitor.pid")
	if err := os.WriteFile(pidFile, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o600); err != nil {
		return fmt.Errorf("monitor pid file: %w", err)
	}
	defer os.Remove(pidFile)
	srv, err := NewServer(root, log)
	if err != nil {
		return err
	}
	sock := filepath.Join(root, SocketName)
	_ = os.Remove(sock)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return fmt.Errorf("monitor socket: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		l.Close()
		return fmt.Errorf("monitor socket: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT)
	signal.Ignore(unix.SIGHUP, unix.SIGPIPE)
	go func() {
		for sig := range sigs {
			if n := srv.Count(); n > 0 {
				log.Warn("monitor keeps running: it holds containers", "signal", sig.String(), "containers", n)
				continue
			}
			cancel()
			return
		}
	}()
	log.Info("monitor started", "root", root, "pid", os.Getpid())
	return srv.Serve(ctx, l)
}

// Ensure returns a client of the monitor of root, starting one from exe
// (`exe monitor --root ROOT`) in a session of its own if none answers.
// The monitor's log goes to root/monitor.log.
func Ensure(ctx context.Context, root, exe string, args []string) (*Client, error) {
	c := NewClient(root)
	if c.Ping(ctx) == nil {
		return c, nil
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("monitor root: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(root, "monitor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("monitor log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, append(args, "monitor", "--root", root)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = append(os.Environ(), "GOGC=50")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c.Ping(ctx) == nil {
			return c, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("monitor exited at start (%v): see %s", err, filepath.Join(root, "monitor.log"))
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.New("monitor did not answer within 10s")
		}
	}
}
