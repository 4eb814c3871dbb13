package main

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/pflag"

	"buildledger/internal/clockcheck"
	"buildledger/internal/feed"
)

// feedCommitLatency is what the feed's settle window allows, beyond the workers' clock
// skew, for an append to commit and reach the time index.
const feedCommitLatency = time.Second

// clockSettings say how far off from AWS's the worker's clock may be before it stops
// deciding, and so how far behind the present the feed of the read API stays.
type clockSettings struct {
	// Tolerance is the largest clock offset the worker decides with.
	Tolerance time.Duration

	check *clockcheck.Check
}

func (c *clockSettings) bindFlags(fs *pflag.FlagSet, env *envDefaults) {
	fs.DurationVar(&c.Tolerance, "clock-tolerance", env.duration("BUILDLEDGER_CLOCK_TOLERANCE", clockcheck.DefaultTolerance),
		"the worker decides nothing while its clock is off from AWS's (the Date of its responses) by more; the feed (GET /v1/feed) stays this plus 2s behind the present (env BUILDLEDGER_CLOCK_TOLERANCE)")
}

// checker returns the process's clock check, made on first use.
func (c *clockSettings) checker() (*clockcheck.Check, error) {
	if c.check != nil {
		return c.check, nil
	}
	var err error
	c.check, err = clockcheck.New(clockcheck.Config{Tolerance: c.Tolerance})
	return c.check, err
}

// attach has the clients of cfg report their responses' Date to the clock check.
func (c *clockSettings) attach(cfg aws.Config) (aws.Config, error) {
	check, err := c.checker()
	if err != nil {
		return cfg, err
	}
	return check.Attach(cfg), nil
}

// feedReader returns the reader of the API's feed, its windows sized on the clock skew
// the workers tolerate.
func (c *clockSettings) feedReader(events feed.Source) (*feed.Reader, error) {
	check, err := c.checker()
	if err != nil {
		return nil, err
	}
	// The mark is taken on AWS's clock as well as this process can bound it, so that a
	// server whose clock is fast does not read closer to the present than Settle.
	return feed.New(feed.Config{Events: events, Now: check.Earliest, Settle: check.Skew() + feedCommitLatency, Reorder: 2 * check.Skew()})
}
