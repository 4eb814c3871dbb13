package awsconf_test

import (
	"context"
	"errors"
	"testing"

	"buildledger/internal/awsconf"
)

func TestLoad_GivenNoEndpoint_WhenEndpointRequired_ThenErrNoEndpoint(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "")
	if _, err := awsconf.Load(context.Background(), awsconf.Config{RequireEndpoint: true}); !errors.Is(err, awsconf.ErrNoEndpoint) {
		t.Fatalf("err %v, want ErrNoEndpoint", err)
	}
}

func TestLoad_GivenNoRegionAndNoCredentials_ThenDefaultRegionAndLocalCredentials(t *testing.T) {
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
	cfg, err := awsconf.Load(context.Background(), awsconf.Config{LocalCredentials: true, RequireEndpoint: true, MaxAttempts: 7, NoRetryQuota: true})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != awsconf.DefaultRegion {
		t.Errorf("region %q, want %q", cfg.Region, awsconf.DefaultRegion)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "local" {
		t.Errorf("credentials %+v, %v; want the emulators' dummy ones", creds, err)
	}
	if got := cfg.Retryer().MaxAttempts(); got != 7 {
		t.Errorf("max attempts %d, want 7", got)
	}
}
