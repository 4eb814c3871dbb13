package clockcheck_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"buildledger/internal/clockcheck"
)

var aws0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC) // AWS's time, on a whole second

func TestAdmit(t *testing.T) {
	ms := time.Millisecond
	type obs struct {
		// offset is the local clock minus AWS's; rtt the request's round trip; ago how long
		// before the check the answer came.
		offset, rtt, ago time.Duration
	}
	tests := []struct {
		name  string
		obs   []obs
		admit bool
	}{
		{"given nothing observed then admitted", nil, true},
		{"given a clock 0.5 s fast then admitted", []obs{{500 * ms, 20 * ms, 0}}, true},
		{"given a clock 0.5 s slow then admitted", []obs{{-500 * ms, 20 * ms, 0}}, true},
		{"given a clock 5 s fast then refused", []obs{{5 * time.Second, 20 * ms, 0}}, false},
		{"given a clock 5 s slow then refused", []obs{{-5 * time.Second, 20 * ms, 0}}, false},
		{"given a clock 1.5 s fast, which a whole-second Date cannot tell from 1 s, then admitted", []obs{{1500 * ms, 20 * ms, 0}}, true},
		{"given a clock 5 s fast seen by a 20 s long poll after a quick answer then refused",
			[]obs{{5 * time.Second, 20 * ms, 2 * time.Second}, {5 * time.Second, 20 * time.Second, 0}}, false},
		{"given a clock 5 s fast seen longer ago than the window then admitted", []obs{{5 * time.Second, 20 * ms, 2 * time.Minute}}, true},
		{"given a clock that stepped from 5 s fast to right then the newest decides",
			[]obs{{5 * time.Second, 20 * ms, 10 * time.Second}, {0, 20 * ms, 0}}, true},
		{"given a clock that stepped from right to 5 s fast then the newest decides",
			[]obs{{0, 20 * ms, 10 * time.Second}, {5 * time.Second, 20 * ms, 0}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local := aws0.Add(time.Hour)
			c, err := clockcheck.New(clockcheck.Config{Now: func() time.Time { return local }})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range tt.obs {
				// AWS answered in the middle of the round trip; its Date drops the fraction.
				answered := local.Add(-o.ago - o.offset - o.rtt/2)
				received := local.Add(-o.ago)
				c.Observe(received.Add(-o.rtt), received, answered.Truncate(time.Second))
			}
			err = c.Admit()
			if tt.admit && err != nil {
				t.Errorf("Admit() = %v, want nil", err)
			}
			if !tt.admit && !errors.Is(err, clockcheck.ErrClockOff) {
				t.Errorf("Admit() = %v, want ErrClockOff", err)
			}
			if want := map[bool]int64{true: 0, false: 1}[tt.admit]; c.Refusals() != want {
				t.Errorf("Refusals() = %d, want %d", c.Refusals(), want)
			}
		})
	}
}

func TestRegister_GivenAnAWSAnswerFromAClock5sBehindThisOne_ThenTheCheckRefuses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Date", time.Now().Add(-5*time.Second).UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{"TableNames":[]}`))
	}))
	defer srv.Close()
	c, err := clockcheck.New(clockcheck.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Admit(); err != nil {
		t.Fatalf("before any answer: Admit() = %v", err)
	}
	cfg := c.Attach(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	if _, err := db.ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatal(err)
	}
	off, ok := c.Offset()
	if !ok || off.Low < 3*time.Second || off.High > 7*time.Second {
		t.Errorf("Offset() = %+v %v, want about 4 s to 6 s", off, ok)
	}
	if err := c.Admit(); !errors.Is(err, clockcheck.ErrClockOff) {
		t.Errorf("Admit() = %v, want ErrClockOff", err)
	}
}

func TestEarliest(t *testing.T) {
	local := aws0.Add(time.Hour)
	tests := []struct {
		name   string
		offset time.Duration // of the local clock; 0 with observe false
		want   time.Time
	}{
		{"given nothing observed then the local time", 0, local},
		{"given a clock 3 s fast then 3 s and at most the Date's second before it", 3 * time.Second, local.Add(-3 * time.Second)},
		{"given a clock 3 s slow then the local time", -3 * time.Second, local},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := clockcheck.New(clockcheck.Config{Now: func() time.Time { return local }})
			if err != nil {
				t.Fatal(err)
			}
			if i > 0 {
				c.Observe(local.Add(-10*time.Millisecond), local, local.Add(-tt.offset).Truncate(time.Second))
			}
			got := c.Earliest()
			if got.After(tt.want) || got.Before(tt.want.Add(-time.Second)) {
				t.Errorf("Earliest() = %v, want within a second before %v", got, tt.want)
			}
		})
	}
}

func TestEarliest_GivenTheClockMovingDuringTheCall_ThenOneReadingDecidesBothTheWindowAndTheResult(t *testing.T) {
	local := aws0.Add(time.Hour)
	// The first reading is the window's last instant for the observation; any later one is past it.
	readings := []time.Time{local.Add(clockcheck.DefaultWindow), local.Add(clockcheck.DefaultWindow + time.Second)}
	c, err := clockcheck.New(clockcheck.Config{Now: func() time.Time {
		now := readings[0]
		if len(readings) > 1 {
			readings = readings[1:]
		}
		return now
	}})
	if err != nil {
		t.Fatal(err)
	}
	c.Observe(local.Add(-10*time.Millisecond), local, local.Add(-3*time.Second).Truncate(time.Second))
	want := local.Add(clockcheck.DefaultWindow - 3*time.Second)
	if got := c.Earliest(); got.After(want) || got.Before(want.Add(-time.Second)) {
		t.Errorf("Earliest() = %v, want within a second before %v", got, want)
	}
}
