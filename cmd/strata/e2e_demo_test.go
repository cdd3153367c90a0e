package main_test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTheDemoDeploysTheShopEverywhereAndStopsWhatItStarted runs `strata demo` as the README's
// first command does (without a terminal, so it stops at once after showing the matrix) and
// checks what a user is promised: every service at the same version in every environment,
// the URLs to open, and no process or port left behind when it ends.
func TestTheDemoDeploysTheShopEverywhereAndStopsWhatItStarted(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("the demo waits out the shop's 15s soak")
	}
	// The shop's ports are fixed (17100-17199): one demo at a time on this machine, across
	// test processes too.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "strata-demo-test.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if listening("127.0.0.1:17101") {
		t.Skip("something else listens on 127.0.0.1:17101 (a demo left running?): the demo needs the shop's ports")
	}

	dir := filepath.Join(t.TempDir(), "demo")
	cmd := exec.Command(strataBin, "demo", "--dir", dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	t.Cleanup(func() { // should the demo fail half-way, stop what it left running
		for _, pid := range processesWith(dir) {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	})
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("strata demo did not end in 3 minutes\n--- stdout\n%s--- stderr\n%s", out.String(), errb.String())
	}
	if err != nil {
		t.Fatalf("strata demo: %v\n--- stdout\n%s--- stderr\n%s", err, out.String(), errb.String())
	}
	stdout := out.String()

	t.Run("the status matrix shows every service at 1.0.0 in every environment", func(t *testing.T) {
		for _, env := range []string{"dev", "staging", "prod-us", "prod-eu", "prod-ap"} {
			row := regexp.MustCompile(`(?m)^` + env + `\s+1\.0\.0 \S+\s+1\.0\.0 \S+\s+1\.0\.0 \S+\s*$`)
			if !row.MatchString(stdout) {
				t.Errorf("no status row for %s with migrations, api and web at 1.0.0:\n%s", env, stdout)
			}
		}
	})

	open, _, _ := strings.Cut(stdout[strings.Index(stdout, "== open these")+1:], "== stopping")
	urls := regexp.MustCompile(`http://127\.0\.0\.1:(\d+)`).FindAllStringSubmatch(open, -1)
	t.Run("it prints a URL for the api and the web of every environment", func(t *testing.T) {
		if len(urls) != 10 {
			t.Errorf("got %d URLs to open, want 10 (api and web in 5 environments):\n%s", len(urls), stdout)
		}
	})

	t.Run("when it ends, no process it started runs and no port it opened listens", func(t *testing.T) {
		if left := processesWith(dir); len(left) != 0 {
			t.Errorf("processes of the demo still run after it ended: %v", left)
		}
		for _, u := range urls {
			if listening("127.0.0.1:" + u[1]) {
				t.Errorf("%s still listens after the demo ended", u[0])
			}
		}
		if !strings.Contains(stdout, "== stopping what the demo started") {
			t.Errorf("the demo should say that it stops what it started:\n%s", stdout)
		}
	})
}

// listening reports whether something accepts TCP connections at addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
