package awstest

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// readmeStackSection is the heading of the README section that describes the local stack.
const readmeStackSection = "## The two commands"

// TestLocalStack_GivenTheRunningEmulators_ThenTheReadmeNamesTheAddressesTheyListenOn checks,
// for each emulator that `make up` started, that the table in README.md's local-stack section
// names the addresses the kernel shows it listening on, so that the README cannot promise
// 127.0.0.1 while the emulator answers on every interface.
func TestLocalStack_GivenTheRunningEmulators_ThenTheReadmeNamesTheAddressesTheyListenOn(t *testing.T) {
	if os.Getenv("BUILDLEDGER_SKIP_INTEGRATION") == "1" {
		t.Skip("BUILDLEDGER_SKIP_INTEGRATION=1: integration test skipped")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := markdownSection(string(readme), readmeStackSection)
	if section == "" {
		t.Fatalf("README.md has no section %q", readmeStackSection)
	}
	tests := []struct {
		name    string // as in the README's table
		pidFile string // in .localstack/run, written by scripts/localstack.sh
		env     string // endpoint variable that names the port
	}{
		{"DynamoDB Local", "dynamodb.pid", "AWS_ENDPOINT_URL_DYNAMODB"},
		{"fauxqs", "fauxqs.pid", "AWS_ENDPOINT_URL_SQS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := localPort(t, tt.env)
			startedByMakeUp(t, tt.pidFile)
			listening := listeningHosts(t, port)
			if len(listening) == 0 {
				t.Fatalf("%s: nothing listens on port %d", tt.name, port)
			}
			if claim := loopbackClaim.FindString(section); claim != "" && !allLoopback(listening) {
				t.Errorf("README.md section %q says %q, but %s listens on %s", readmeStackSection, claim, tt.name, strings.Join(listening, ", "))
			}
			row, ok := tableRow(section, tt.name)
			if !ok {
				t.Fatalf("README.md section %q has no table row for %s; it listens on %s", readmeStackSection, tt.name, strings.Join(listening, ", "))
			}
			if documented := backtickedHosts(row); !slices.Equal(documented, listening) {
				t.Fatalf("README.md says %s listens on %s; the kernel says %s", tt.name, strings.Join(documented, ", "), strings.Join(listening, ", "))
			}
		})
	}
}

// localPort returns the port of the endpoint in env, skipping when the endpoint is not on
// this host (a compose network, real AWS) and failing, as Config does, when it is unset.
func localPort(t *testing.T, env string) int {
	t.Helper()
	raw := os.Getenv(env)
	if raw == "" {
		t.Fatalf("%s is not set; start the local stack with `make up` and run `make test` (or eval \"$(scripts/localstack.sh env)\")", env)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s=%q: %v", env, raw, err)
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
		t.Skipf("%s=%s is not on this host", env, raw)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("%s=%q has no port", env, raw)
	}
	return port
}

// startedByMakeUp skips unless scripts/localstack.sh started the emulator and it still runs:
// the README's table describes that stack, not docker compose's (whose ports are published
// on 127.0.0.1 only).
func startedByMakeUp(t *testing.T, pidFile string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", ".localstack", "run", pidFile))
	if err != nil {
		t.Skipf("not started by scripts/localstack.sh (%v)", err)
	}
	pid := strings.TrimSpace(string(raw))
	if _, err := os.Stat(filepath.Join("/proc", pid)); err != nil {
		t.Skipf("pid %s of %s no longer runs", pid, pidFile)
	}
}

// listeningHosts returns the local addresses, without the port, of the TCP sockets that
// listen on port, as /proc/net/tcp and /proc/net/tcp6 show them: "0.0.0.0", "[::]",
// "127.0.0.1", sorted.
func listeningHosts(t *testing.T, port int) []string {
	t.Helper()
	var hosts []string
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			t.Fatalf("read listening sockets: %v", err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			const listen = "0A"
			if len(fields) < 4 || fields[3] != listen {
				continue
			}
			addr, err := parseProcAddr(fields[1])
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if int(addr.Port()) == port {
				hosts = append(hosts, hostOf(addr))
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}

// parseProcAddr decodes a local_address of /proc/net/tcp{,6}: the address as 32-bit words
// printed in host byte order, a colon, the port in hex.
func parseProcAddr(s string) (netip.AddrPort, error) {
	hexAddr, hexPort, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(hexAddr)
	if !ok || err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("address %q is not address:port in hex", s)
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: port: %v", s, err)
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// hostOf is the address part of addr as it is written before ":port".
func hostOf(addr netip.AddrPort) string {
	s := addr.String()
	return s[:strings.LastIndex(s, ":")]
}

// markdownSection returns the text under heading up to the next heading of the same level.
func markdownSection(doc, heading string) string {
	level := heading[:strings.Index(heading, " ")+1]
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		return ""
	}
	if end := strings.Index(rest, "\n"+level); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

// tableRow returns the markdown table row whose first cell starts with name.
func tableRow(section, name string) (string, bool) {
	for line := range strings.Lines(section) {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) > 2 && strings.HasPrefix(strings.TrimSpace(cells[1]), name) {
			return line, true
		}
	}
	return "", false
}

// loopbackClaim is how the README has said that the emulators are private to this host.
var loopbackClaim = regexp.MustCompile(`(?i)\b(bound|binds?|listens?|listening)\s+(only\s+)?(to|on)\s+(only\s+)?127\.0\.0\.1`)

// allLoopback reports whether every host is a loopback address.
func allLoopback(hosts []string) bool {
	for _, h := range hosts {
		a, err := netip.ParseAddr(strings.Trim(h, "[]"))
		if err != nil || !a.Unmap().IsLoopback() {
			return false
		}
	}
	return true
}

var backticked = regexp.MustCompile("`([^`]+)`")

// backtickedHosts returns the hosts of the host:port addresses a table row quotes in
// backticks, sorted; other quoted words are ignored.
func backtickedHosts(row string) []string {
	var hosts []string
	for _, m := range backticked.FindAllStringSubmatch(row, -1) {
		if ap, err := netip.ParseAddrPort(m[1]); err == nil {
			hosts = append(hosts, hostOf(ap))
		}
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}
