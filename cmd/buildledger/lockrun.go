package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"buildledger/domain"
)

// Environment variables that `locks run` gives the command.
const (
	envLockEnv   = "BUILDLEDGER_LOCK_ENV"
	envLockUser  = "BUILDLEDGER_LOCK_USER"
	envLockToken = "BUILDLEDGER_LOCK_TOKEN"
)

// defaultRunLease is the lease of `locks run` when --lease is not given: long enough that a
// few missed renewals do not lose it, short enough that a crashed runner frees the env soon.
const defaultRunLease = 5 * time.Minute

func newLocksRunCommand(s *settings) *cobra.Command {
	var (
		c         domain.Lock
		giveUp    time.Duration
		every     time.Duration
		heartbeat time.Duration
		attempt   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run --env ENV --user USER [--lease DURATION] [--meta META] [--wait DURATION] -- COMMAND [ARGS...]",
		Short: "Hold an environment's lock while a command runs: take it, renew it, release it",
		Long: `Run a command while holding an environment's lock.

run takes the lock as 'lock' does (waiting in line while someone else holds the env, up to
--wait), then runs the command with the grant in its environment:

  BUILDLEDGER_LOCK_ENV    the environment
  BUILDLEDGER_LOCK_USER   the user
  BUILDLEDGER_LOCK_TOKEN  the grant's fencing token

While the command runs, run renews the lease every third of it (--heartbeat). If a renewal
finds the lock lost (its lease ran out, or it was forced away), run says so on stderr and
lets the command go on: the command can ask 'locks check --env "$BUILDLEDGER_LOCK_ENV"
--token "$BUILDLEDGER_LOCK_TOKEN"' before each step that needs the lock. SIGINT and SIGTERM
are passed on to the command. When the command ends, run releases the lock, if it still
holds it. If run itself dies (even by SIGKILL), the command gets SIGTERM (on Linux): nobody
renews the lease any more.

The lease is required: --lease, default 5m. It bounds how long the env stays locked if run
itself dies.

Exit code: the command's; 128+N for a command ended by signal N; 1 for a command that
succeeded although the lock was lost while it ran; 127 when the command cannot be started.
When the lock is not taken, the exit codes of 'lock'.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("give the command to run after --, e.g. %s --env production --user alice -- ./deploy.sh", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c = domain.Normalize(c).(domain.Lock)
			if err := c.Validate(); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			lease, _ := domain.ParseLease(c.Lease) // validated
			interval, err := heartbeatInterval(lease, heartbeat)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			b, err := openBackend(cmd.Context(), s, nil)
			if err != nil {
				return err
			}
			r := &lockRun{
				wait:      lockWait{b: b, lock: c, giveUp: giveUp, every: every, attempt: attempt, stderr: cmd.ErrOrStderr()},
				heartbeat: interval,
				stdin:     cmd.InOrStdin(), stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr(),
			}
			return r.run(cmd.Context(), args)
		},
	}
	f := cmd.Flags()
	// Flags after the command's name are the command's own.
	f.SetInterspersed(false)
	bindTakeFlags(cmd, &c, &giveUp, &every)
	f.StringVar(&c.Lease, "lease", defaultRunLease.String(), "the lock runs out this long after it was last renewed")
	f.DurationVar(&heartbeat, "heartbeat", 0, "renew the lease this often; default a third of the lease")
	f.DurationVar(&attempt, "timeout", 30*time.Second, "without --wait: how long one attempt waits for the service to answer (exit 3)")
	return cmd
}

// heartbeatInterval is how often run renews a lease: every given, or a third of the lease,
// so that two renewals in a row may fail before the lease runs out.
func heartbeatInterval(lease, every time.Duration) (time.Duration, error) {
	switch {
	case lease <= 0:
		return 0, errors.New("--lease is required: run holds the lock with a lease, which bounds how long the env stays locked if run dies")
	case every < 0:
		return 0, fmt.Errorf("--heartbeat %s: want a positive duration", every)
	case every == 0:
		return lease / 3, nil
	case every >= lease:
		return 0, fmt.Errorf("--heartbeat %s: renew more often than the lease (%s) runs out", every, lease)
	}
	return every, nil
}

// commandEnd is how the command ended.
type commandEnd struct {
	// Code is the command's exit status, when it exited.
	Code int
	// Signal is the signal that ended it, 0 when it exited.
	Signal syscall.Signal
}

// endOf reads how a process ended.
func endOf(state *os.ProcessState) commandEnd {
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return commandEnd{Signal: ws.Signal()}
	}
	return commandEnd{Code: state.ExitCode()}
}

// runExitCode is run's exit code: the command's own, 128+N for a command ended by signal N,
// and 1 for a command that succeeded while the lock was lost, since what it did may have
// happened without the lock.
func runExitCode(end commandEnd, lost bool) int {
	switch {
	case end.Signal != 0:
		return 128 + int(end.Signal)
	case end.Code != 0:
		return end.Code
	case lost:
		return exitRejected
	}
	return exitOK
}

// lockRun is one `locks run`.
type lockRun struct {
	wait      lockWait
	heartbeat time.Duration
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer

	token int64
	// lost: a renewal, or the check before the release, found the grant no longer held.
	lost atomic.Bool
	// out serialises the heartbeat's lines with the rest.
	out sync.Mutex
}

func (r *lockRun) run(ctx context.Context, args []string) error {
	env, user := r.wait.lock.Env, r.wait.lock.User
	g, err := r.wait.run(ctx)
	var unprojected *unprojectedError
	if err != nil && !errors.As(err, &unprojected) {
		return err
	}
	// The read models lagging behind is no reason not to run: the grant is in the events.
	r.token = g.answer.Token
	r.say(grantLine(env, user, g.answer))
	if ctx.Err() != nil {
		return r.releaseAfter(commandEnd{Signal: syscall.SIGINT}, interrupted(env))
	}

	child := exec.Command(args[0], args[1:]...)
	child.Stdin, child.Stdout, child.Stderr = r.stdin, r.stdout, r.stderr
	child.SysProcAttr = childAttrs()
	child.Env = append(os.Environ(), envLockEnv+"="+env, envLockUser+"="+user, envLockToken+"="+strconv.FormatInt(r.token, 10))
	// Pdeathsig is sent when the thread that started the child ends: keep it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	if err := child.Start(); err != nil {
		return r.releaseAfter(commandEnd{Code: 127}, &exitError{code: 127, err: fmt.Errorf("cannot run %s: %w", args[0], err)})
	}

	beat, stopBeat := context.WithCancel(context.Background())
	var beating sync.WaitGroup
	beating.Go(func() { r.renew(beat) })
	waited := make(chan error, 1)
	go func() { waited <- child.Wait() }()
	var waitErr error
	for done := false; !done; {
		select {
		case sig := <-signals:
			// In a terminal the command has its own Ctrl-C too; SIGTERM comes only from here.
			_ = child.Process.Signal(sig)
		case waitErr = <-waited:
			done = true
		}
	}
	stopBeat()
	beating.Wait()
	if child.ProcessState == nil {
		return r.releaseAfter(commandEnd{Code: exitRejected}, fmt.Errorf("waiting for %s: %w", args[0], waitErr))
	}
	end := endOf(child.ProcessState)
	return r.releaseAfter(end, r.endError(args[0], end))
}

// endError is what run exits with after the command ended.
func (r *lockRun) endError(name string, end commandEnd) error {
	code := runExitCode(end, r.lost.Load())
	switch {
	case code == exitOK:
		return nil
	case end.Signal != 0:
		return &exitError{code: code, err: fmt.Errorf("%s was ended by signal %d (%s)", name, int(end.Signal), end.Signal)}
	case end.Code != 0:
		return &exitError{code: code, err: fmt.Errorf("%s exited with code %d", name, end.Code)}
	}
	return &exitError{code: code, rejection: domain.CodeLockLost,
		err: fmt.Errorf("%s succeeded, but the lock on env %s (fencing token %d) was lost while it ran", name, r.wait.lock.Env, r.token)}
}

// renew renews the lease every heartbeat until ctx ends or the grant is lost.
func (r *lockRun) renew(ctx context.Context) {
	t := time.NewTicker(r.heartbeat)
	defer t.Stop()
	c := domain.Renew{Env: r.wait.lock.Env, User: r.wait.lock.User, Token: r.token}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// A renewal unanswered by the next one is withdrawn: renewals never pile up.
		_, err := r.wait.b.submit(ctx, c, time.Now().Add(r.heartbeat), r.heartbeat)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return
		case rejectionOf(err) == domain.CodeLockLost:
			r.lost.Store(true)
			r.say(fmt.Sprintf("buildledger: LOST the lock on env %s (fencing token %d): %v; the command keeps running (it can check with: buildledger locks check --env %s --token %d)",
				c.Env, c.Token, err, c.Env, c.Token))
			return
		default:
			r.say(fmt.Sprintf("buildledger: renewing the lock on env %s failed (%v); trying again in %s", c.Env, err, r.heartbeat))
		}
	}
}

// releaseAfter releases the lock once the command has ended, if the grant is still the
// current one, and returns result (or, for a command that succeeded, what stands in the way).
func (r *lockRun) releaseAfter(end commandEnd, result error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env, user := r.wait.lock.Env, r.wait.lock.User
	if r.lost.Load() {
		return result
	}
	// The release is fenced with the token, so it never ends a later grant; reading the lock
	// first says why it was lost, when it was.
	l, err := r.wait.b.envLock(ctx, env)
	if err != nil {
		r.say(fmt.Sprintf("buildledger: could not read the lock on env %s to release it (%v); its lease runs out unless renewed", env, err))
		return result
	}
	if !l.Current(r.token, time.Now()) {
		r.lost.Store(true)
		r.say("buildledger: " + notCurrent(l, r.token, time.Now()).Error())
		if result == nil {
			return r.endError("the command", end)
		}
		return result
	}
	release := domain.Release{Env: env, User: user, Uberlock: r.wait.lock.Uberlock, Token: r.token}
	if _, err := r.wait.b.submit(ctx, release, time.Now().Add(30*time.Second), 30*time.Second); err != nil {
		r.say(fmt.Sprintf("buildledger: releasing the lock on env %s failed (%v); its lease runs out at %s unless renewed", env, err, clock(l.ExpiresAt())))
		return result
	}
	r.say(fmt.Sprintf("Released the lock on env %s (fencing token %d)", env, r.token))
	return result
}

func (r *lockRun) say(line string) {
	r.out.Lock()
	defer r.out.Unlock()
	fmt.Fprintln(r.stderr, line)
}
