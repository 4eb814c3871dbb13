package e2e

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

// screenshotPath is the README's picture of the board, written when
// BUILDLEDGER_WRITE_SCREENSHOT=1.
const screenshotPath = "../docs/board.png"

// maxScreenshotBytes keeps the committed picture small.
const maxScreenshotBytes = 300 << 10

// A real browser on the real page: a lock taken with the CLI appears on the board, a waiter
// appears in the queue, and when the holder releases, the waiter shows as the holder
// without a reload (the page's own polling brought it).
func TestBoard_GivenServeAndChromium_WhenLocksChangeThroughTheCLI_ThenThePageFollowsWithoutAReload(t *testing.T) {
	t.Parallel()
	chromium := findChromium(t)
	in := newInstallation(t, "e2e-board")
	addr := in.launchServe(t)
	const env = "staging"

	in.ok(t, "locks", "lock", "--env", env, "--user", "alice", "--meta", "deploy <b>#42</b>", "--lease", "30m")
	seedBoard(t, in)

	browser := newBrowser(t, chromium)
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	began := time.Now()
	holder := func(user string) chromedp.CSS {
		return chromedp.CSS(`[data-env="` + env + `"] [data-holder="` + user + `"]`)
	}
	do(t, ctx, "open the board and find alice holding "+env,
		chromedp.Navigate("http://"+addr+"/"),
		chromedp.WaitVisible(holder("alice")),
	)
	value(t, ctx, "set a marker on the page", chromedp.Evaluate[string](`window.boardMarker = "not reloaded"`))
	meta := value(t, ctx, "read the lock's meta", chromedp.Text(chromedp.CSS(`[data-env="`+env+`"] dd.meta`)))
	if meta != "deploy <b>#42</b>" {
		t.Errorf("given a meta with markup then it shows as text: %q", meta)
	}

	bob := in.start(t, lockArgs(env, "bob", "--wait", "60s")...)
	bob.waitStderr(t, "position 1", 30*time.Second)
	do(t, ctx, "see bob in the queue", chromedp.WaitVisible(chromedp.CSS(`[data-env="`+env+`"] [data-waiter="bob"]`)))

	in.ok(t, "locks", "release", "--env", env, "--user", "alice")
	do(t, ctx, "see bob holding "+env, chromedp.WaitVisible(holder("bob")))
	marker := value(t, ctx, "read the marker", chromedp.Evaluate[string](`String(window.boardMarker)`))
	if marker != "not reloaded" {
		t.Errorf("given the page open when the lock passed to bob then the page was updated in place, but the marker is %q: it was reloaded", marker)
	}
	if r := bob.wait(); r.code != 0 {
		t.Errorf("bob did not get the lock:\n%s", r)
	}
	t.Logf("the page followed the lock from alice through bob's wait to bob in %s", time.Since(began).Round(time.Millisecond))

	// For the picture: someone waiting for production, where carol holds the lock.
	do(t, ctx, "see bob no longer waiting", chromedp.WaitNotPresent(chromedp.CSS(`[data-env="`+env+`"] [data-waiter]`)))
	dave := in.start(t, lockArgs("production", "dave", "--wait", "60s")...)
	dave.waitStderr(t, "position 1", 30*time.Second)
	do(t, ctx, "see dave in production's queue", chromedp.WaitVisible(chromedp.CSS(`[data-env="production"] [data-waiter="dave"]`)))
	shot := value(t, ctx, "take a screenshot", chromedp.FullScreenshot(100))
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 600 {
		t.Errorf("the screenshot is %dx%d, want the full page", b.Dx(), b.Dy())
	}
	if len(shot) > maxScreenshotBytes {
		t.Errorf("the screenshot is %d KB, want at most %d KB", len(shot)>>10, maxScreenshotBytes>>10)
	}
	if os.Getenv("BUILDLEDGER_WRITE_SCREENSHOT") == "1" {
		if err := os.MkdirAll(filepath.Dir(screenshotPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(screenshotPath, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d KB)", screenshotPath, len(shot)>>10)
	}
}

// seedBoard gives the board's other sections something to show: another env's lock with a
// freeze, a repository's builds, a package's progress, a running and a skipped job.
func seedBoard(t *testing.T, in *installation) {
	t.Helper()
	in.ok(t, "locks", "lock", "--env", "production", "--user", "carol", "--meta", "release 2.4.0", "--lease", "2h")
	in.ok(t, "freezes", "add", "--env", "production", "--user", "ops", "--cron", "0 18 * * FRI",
		"--duration", "64h", "--tz", "Europe/Berlin", "--reason", "no deploys over the weekend")
	repo := []string{"--user", "web", "--repo", "storefront"}
	in.ok(t, append([]string{"builds", "create", "--tag", "v2.3.0", "--browsers", "chrome,firefox,safari"}, repo...)...)
	for _, u := range [][]string{{"chrome", "passed"}, {"firefox", "passed"}, {"safari", "failed"}} {
		in.ok(t, append([]string{"builds", "update", "--build", "1", "--browser", u[0], "--status", u[1], "--finished"}, repo...)...)
	}
	in.ok(t, append([]string{"builds", "create", "--tag", "v2.4.0", "--browsers", "chrome,firefox,safari"}, repo...)...)
	in.ok(t, append([]string{"builds", "update", "--build", "2", "--browser", "chrome", "--status", "passed", "--finished"}, repo...)...)
	in.ok(t, append([]string{"builds", "update", "--build", "2", "--browser", "firefox", "--status", "running"}, repo...)...)
	pkg := []string{"--pkg", "@shop/ui", "--env", "production", "--version", "2.4.0"}
	in.ok(t, append([]string{"status", "start", "--locales", "en,fr,de", "--previous-version", "2.3.0"}, pkg...)...)
	in.ok(t, append([]string{"status", "complete", "--locale", "en"}, pkg...)...)
	in.ok(t, append([]string{"status", "complete", "--locale", "fr"}, pkg...)...)
	in.ok(t, "jobs", "start", "--jobname", "db-migrate", "--user", "carol", "--gitversion", "9d8e7f6")
	in.ok(t, "jobs", "start", "--jobname", "smoke-tests", "--user", "dave", "--gitversion", "3f2c1ab")
	in.ok(t, "jobs", "end", "--gitversion", "3f2c1ab", "--skipped")
}

// findChromium returns the browser the test drives; without it the test fails, since the
// board's promise is that it works in a real browser.
func findChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err == nil {
		return chromiumPath
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatalf("the board test needs Chromium at %s: apt-get install chromium (.ci/run installs it when missing)", chromiumPath)
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile for the test and returns its
// context; it is closed when the test ends. The machine has no network: the flags keep
// Chromium from trying to reach Google's services.
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium")),
		chromedp.WindowSize(1280, 900),
	}
	for _, flag := range []string{"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
		"no-default-browser-check", "disable-background-networking", "disable-component-update",
		"disable-sync", "disable-extensions", "disable-dev-shm-usage", "hide-scrollbars"} {
		opts = append(opts, chromedp.Flag(flag, true))
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	if err := chromedp.Do(ctx); err != nil { // starts the browser, on a context without a timeout
		cancel()
		cancelAlloc()
		t.Fatalf("start %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}

// do runs browser steps, failing the test with what it was doing.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// value runs a browser action and returns its value, failing the test with what it was
// doing.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// launchServe runs `buildledger run` (the worker and the HTTP API with the board) for the
// installation until the test ends, and returns the address it listens on.
func (in *installation) launchServe(t *testing.T) string {
	t.Helper()
	w := &workerProcess{prefix: in.prefix, exited: make(chan error, 1), logPath: filepath.Join(t.TempDir(), "run.log")}
	var err error
	if w.logFile, err = os.Create(w.logPath); err != nil {
		t.Fatal(err)
	}
	w.cmd = exec.Command(binary, "run", "--prefix", in.prefix, "--http-addr", "127.0.0.1:0", "--log-level", "info")
	w.cmd.Env = in.environ()
	w.cmd.Stdout, w.cmd.Stderr = w.logFile, w.logFile
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start buildledger run: %v", err)
	}
	go func() { w.exited <- w.cmd.Wait() }()
	t.Cleanup(func() { w.terminate(t) })
	addr := waitListening(t, w.logPath, w.exited)
	waitHealthy(t, addr, w.exited)
	return addr
}
