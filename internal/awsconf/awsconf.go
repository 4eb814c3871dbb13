// Package awsconf loads the AWS configuration of every buildledger process — the binary, the
// benchmark and the tests — from the standard AWS variables (AWS_REGION, credentials,
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_DYNAMODB/SQS/SNS), with the HTTP client, retries and
// SDK logging each of them tunes through a Config.
package awsconf

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"

	"buildledger/internal/settings"
)

// DefaultRegion is the region when neither AWS_REGION nor AWS_DEFAULT_REGION is set.
const DefaultRegion = "us-east-1"

// ErrNoEndpoint is returned by Load with RequireEndpoint when no endpoint variable is set.
var ErrNoEndpoint = errors.New("awsconf: AWS_ENDPOINT_URL_DYNAMODB is not set; start the local stack with `make up` (or eval \"$(scripts/localstack.sh env)\")")

// Config tunes the AWS configuration of one process. The zero value is the binary's.
type Config struct {
	// Timeout bounds one HTTP request to AWS; default 30s.
	Timeout time.Duration
	// MaxIdleConns bounds the idle connections kept in all; 0 keeps Go's default.
	MaxIdleConns int
	// MaxIdleConnsPerHost is how many idle connections are kept per endpoint, so that
	// concurrent callers reuse connections instead of opening new ones; default 128.
	MaxIdleConnsPerHost int
	// MaxAttempts bounds the SDK's attempts per call; 0 keeps the SDK's default (3).
	MaxAttempts int
	// NoRetryQuota turns off the SDK's client-side retry quota, so that a slow emulator
	// under load never makes a call fail because the quota ran dry.
	NoRetryQuota bool
	// Debug shows the SDK's own warnings on stderr. They are off by default: DynamoDB
	// Local's error responses carry no CRC32 header, and the SDK warns on each about
	// connection reuse, which says nothing about buildledger's work.
	Debug bool
	// LocalCredentials supplies the emulators' dummy credentials ("local") when neither
	// AWS_ACCESS_KEY_ID nor AWS_PROFILE is set.
	LocalCredentials bool
	// RequireEndpoint refuses to load (ErrNoEndpoint) unless an endpoint variable is set, so
	// that a program that creates and deletes resources never reaches a real account by
	// mistake.
	RequireEndpoint bool
}

func (c *Config) setDefaults() {
	settings.Default(&c.Timeout, 30*time.Second)
	settings.Default(&c.MaxIdleConnsPerHost, 128)
}

// HasEndpoint reports whether AWS_ENDPOINT_URL_DYNAMODB or AWS_ENDPOINT_URL points the
// SDK somewhere explicit, such as the local emulators.
func HasEndpoint() bool {
	return os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
}

// Load returns the AWS configuration from the standard variables, tuned by c.
func Load(ctx context.Context, c Config) (aws.Config, error) {
	c.setDefaults()
	if c.RequireEndpoint && !HasEndpoint() {
		return aws.Config{}, ErrNoEndpoint
	}
	opts := []func(*config.LoadOptions) error{
		config.WithLogger(sdkLogger(c.Debug)),
		config.WithHTTPClient(awshttp.NewBuildableClient().
			WithTimeout(c.Timeout).
			WithTransportOptions(func(tr *http.Transport) {
				if c.MaxIdleConns > 0 {
					tr.MaxIdleConns = c.MaxIdleConns
				}
				tr.MaxIdleConnsPerHost = c.MaxIdleConnsPerHost
			})),
	}
	if c.NoRetryQuota {
		opts = append(opts, config.WithRetryer(func() aws.Retryer {
			return Retryer(c.MaxAttempts, 0)
		}))
	} else if c.MaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(c.MaxAttempts))
	}
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		opts = append(opts, config.WithRegion(DefaultRegion))
	}
	if c.LocalCredentials && os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("awsconf: load AWS configuration: %w", err)
	}
	return cfg, nil
}

// Retryer retries like the SDK's standard retryer, without the client-side retry quota;
// maxAttempts 0 keeps the SDK's default number of attempts, maxBackoff 0 its backoff bound.
func Retryer(maxAttempts int, maxBackoff time.Duration) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		if maxAttempts > 0 {
			o.MaxAttempts = maxAttempts
		}
		if maxBackoff > 0 {
			o.MaxBackoff = maxBackoff
		}
		o.RateLimiter = ratelimit.None
	})
}

func sdkLogger(debug bool) logging.Logger {
	if debug {
		return logging.NewStandardLogger(os.Stderr)
	}
	return logging.Nop{}
}
