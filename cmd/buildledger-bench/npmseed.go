package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/internal/ddb"
)

// npmSeedPackage is the npm package of the dynamodb-eventstore seed that Store.Put replaces,
// as npmseed/package.json pins it.
const npmSeedPackage = "dynamodb-eventstore@0.1.0"

// DefaultNPMSeed is the folder of the Node driver of the put figure's npm baseline, relative
// to the repository's root, where `make bench` runs.
const DefaultNPMSeed = "cmd/buildledger-bench/npmseed"

// npmSeedOff, as Config.PutNPMSeed, leaves the npm baseline out.
const npmSeedOff = "off"

// npmInstall runs `npm ci` at most once per folder and process: the driver's dependencies
// come from its committed lockfile into its git-ignored node_modules.
var npmInstall sync.Map // folder → func() error

// npmSeedRate puts n events (after a warm-up) with the seed's npm package, callers at a
// time, on a table of the key schema the package documents (hash key "key", a string), and
// returns the events per second its driver measured.
func npmSeedRate(ctx context.Context, e *environment, n, callers int) (float64, error) {
	dir := e.cfg.PutNPMSeed
	if _, err := os.Stat(filepath.Join(dir, "driver.js")); err != nil {
		return 0, fmt.Errorf("no driver in %s (run from the repository's root or set --put-npm-seed): %w", dir, err)
	}
	if err := installNPMSeed(ctx, dir); err != nil {
		return 0, err
	}
	table := e.name("put-npm-events")
	e.track(table)
	defer e.dropTables(context.WithoutCancel(ctx), table)
	if _, err := ddb.CreateTable(ctx, e.db, ddb.StringKeyTable(table, "key")); err != nil {
		return 0, err
	}
	warm := min(max(n/20, callers), 200)
	cmd := exec.CommandContext(ctx, "node", "driver.js", table, strconv.Itoa(n), strconv.Itoa(callers), strconv.Itoa(warm))
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("node driver.js: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var out struct {
		Events  int     `json:"events"`
		Seconds float64 `json:"seconds"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return 0, fmt.Errorf("node driver.js: output %q: %w", stdout.String(), err)
	}
	if out.Events != n || !(out.Seconds > 0) {
		return 0, fmt.Errorf("node driver.js: %d events in %v s, want %d", out.Events, out.Seconds, n)
	}
	// The package reports success without looking at UnprocessedItems and writes keys that
	// can collide: count what it stored, so that a rate of lost events is never reported.
	stored, err := countItems(ctx, e.db, table)
	if err != nil {
		return 0, err
	}
	if stored != n+warm {
		return 0, fmt.Errorf("%s stored %d of %d events", npmSeedPackage, stored, n+warm)
	}
	return float64(n) / out.Seconds, nil
}

// installNPMSeed runs `npm ci` in dir unless the package is already installed there.
func installNPMSeed(ctx context.Context, dir string) error {
	once, _ := npmInstall.LoadOrStore(dir, sync.OnceValue(func() error {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "dynamodb-eventstore", "package.json")); err == nil {
			return nil
		}
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("npm ci in %s: %w: %s", dir, err, bytes.TrimSpace(out))
		}
		return nil
	}))
	return once.(func() error)()
}

// countItems counts a table's items with a Scan that returns only the count.
func countItems(ctx context.Context, db *dynamodb.Client, table string) (int, error) {
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount})
	count := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("count %s: %w", table, err)
		}
		count += int(page.Count)
	}
	return count, nil
}
