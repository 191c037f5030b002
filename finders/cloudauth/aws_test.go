package cloudauth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imageconfig/imageconfig-operator/finders/cloudauth"
	"github.com/imageconfig/imageconfig-operator/finders/cloudauth/cloudfake"
)

const (
	ecrRegistry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
	awsRole     = "arn:aws:iam::123456789012:role/puller"
)

func TestAWSObjectLevel(t *testing.T) {
	clock := newClock()
	cloud := cloudfake.NewCloud(t)
	aws := cloudfake.NewAWS(cloud, clock, "eu-west-1")
	aws.Trust(awsRole, "team-a", "puller")
	sa := &saIdentity{clock: clock}
	b := newBroker(t, cloud, clock, env{}, cloudauth.Hooks{})

	c, err := b.Credentials(context.Background(), cloudauth.AWS, ecrRegistry, sa.identity("team-a", "puller", map[string]string{cloudauth.AWSRoleARNAnnotation: awsRole}))
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ValidPassword(c.Username, c.Password) {
		t.Errorf("the registry would refuse %v", c)
	}
	if want := "provider aws via serviceaccount team-a/puller (role " + awsRole + ")"; c.Source != want {
		t.Errorf("Source = %q, want %q", c.Source, want)
	}
	if want := clock.Now().Add(12 * time.Hour); !c.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %s, want %s", c.ExpiresAt, want)
	}
	if strings.Contains(c.String(), c.Password) {
		t.Errorf("String() shows the password: %s", c)
	}
	if got := strings.Join(sa.audiences, ","); got != cloudauth.AWSAudience {
		t.Errorf("token audiences = %q, want %q", got, cloudauth.AWSAudience)
	}
	if aws.Calls.Get("sts") != 1 || aws.Calls.Get("ecr") != 1 {
		t.Errorf("calls sts=%d ecr=%d, want 1 and 1", aws.Calls.Get("sts"), aws.Calls.Get("ecr"))
	}
}

func TestAWSRefusals(t *testing.T) {
	tests := []struct {
		name        string
		registry    string
		annotations map[string]string
		prepare     func(*cloudfake.AWS, *fakeClock)
		wantReason  string
		wantMsg     string
		wantSTS     int
	}{
		{name: "no annotation", registry: ecrRegistry, annotations: nil,
			wantReason: "ProviderIdentityInvalid", wantMsg: "serviceaccount team-a/puller has no eks.amazonaws.com/role-arn annotation"},
		{name: "malformed annotation", registry: ecrRegistry, annotations: map[string]string{cloudauth.AWSRoleARNAnnotation: "puller"},
			wantReason: "ProviderIdentityInvalid", wantMsg: `annotation eks.amazonaws.com/role-arn="puller" is not an IAM role ARN`},
		{name: "role the trust policy refuses", registry: ecrRegistry, annotations: map[string]string{cloudauth.AWSRoleARNAnnotation: "arn:aws:iam::123456789012:role/admin"},
			wantReason: "ProviderAuthFailed", wantMsg: "aws sts answered 403 AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity", wantSTS: 1},
		{name: "STS 5xx", registry: ecrRegistry, annotations: map[string]string{cloudauth.AWSRoleARNAnnotation: awsRole},
			prepare:    func(a *cloudfake.AWS, _ *fakeClock) { a.STSFaults.FailNext(1, http.StatusServiceUnavailable) },
			wantReason: "ProviderUnavailable", wantMsg: "aws sts answered 503", wantSTS: 1},
		{name: "clock skew larger than the token lifetime", registry: ecrRegistry, annotations: map[string]string{cloudauth.AWSRoleARNAnnotation: awsRole},
			prepare:    func(a *cloudfake.AWS, _ *fakeClock) { a.ExpiresAtShift = -13 * time.Hour },
			wantReason: "ProviderClockSkew", wantMsg: "aws ecr issued a credential that expires at 2026-12-04T11:00:00Z, which is already past", wantSTS: 1},
		{name: "registry of another provider", registry: "europe-docker.pkg.dev", annotations: map[string]string{cloudauth.AWSRoleARNAnnotation: awsRole},
			wantReason: "ProviderRegistryMismatch", wantMsg: `registry "europe-docker.pkg.dev" belongs to provider gcp, not aws`},
		{name: "registry of no provider", registry: "ghcr.io", annotations: map[string]string{cloudauth.AWSRoleARNAnnotation: awsRole},
			wantReason: "ProviderRegistryMismatch", wantMsg: `registry "ghcr.io" is not a aws registry`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			cloud := cloudfake.NewCloud(t)
			aws := cloudfake.NewAWS(cloud, clock, "eu-west-1")
			aws.Trust(awsRole, "team-a", "puller")
			if tt.prepare != nil {
				tt.prepare(aws, clock)
			}
			var failures []string
			b := newBroker(t, cloud, clock, env{}, cloudauth.Hooks{Failure: func(p cloudauth.Provider, reason string) { failures = append(failures, string(p)+"/"+reason) }})
			sa := &saIdentity{clock: clock}
			_, err := b.Credentials(context.Background(), cloudauth.AWS, tt.registry, sa.identity("team-a", "puller", tt.annotations))
			if err == nil {
				t.Fatal("no error")
			}
			if got := cloudauth.Reason(err); got != tt.wantReason {
				t.Errorf("Reason = %q, want %q (%v)", got, tt.wantReason, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if got := aws.Calls.Get("sts"); got != tt.wantSTS {
				t.Errorf("STS calls = %d, want %d", got, tt.wantSTS)
			}
			if len(failures) != 1 || failures[0] != "aws/"+tt.wantReason {
				t.Errorf("failure hooks = %v, want [aws/%s]", failures, tt.wantReason)
			}
			var mm *cloudauth.RegistryMismatchError
			if errors.As(err, &mm) != (tt.wantReason == "ProviderRegistryMismatch") {
				t.Errorf("errors.As(*RegistryMismatchError) = %v for %v", !errors.As(err, &mm), err)
			}
		})
	}
}

func TestAWSControllerLevel(t *testing.T) {
	tests := []struct {
		name     string
		registry string
		env      env
		trustSA  string // the subject of the controller's token file
		wantErr  string
		wantCall string
	}{
		{name: "IRSA", registry: ecrRegistry, trustSA: "imageconfig-system/controller-manager", wantCall: "ecr",
			env: env{"AWS_ROLE_ARN": awsRole, "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}},
		{name: "IRSA to ECR Public", registry: "public.ecr.aws", trustSA: "imageconfig-system/controller-manager", wantCall: "ecr-public",
			env: env{"AWS_ROLE_ARN": awsRole, "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}},
		{name: "endpoints overridden", registry: ecrRegistry, trustSA: "imageconfig-system/controller-manager", wantCall: "ecr",
			env: env{"AWS_ROLE_ARN": awsRole, "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
				"AWS_ENDPOINT_URL_STS": "https://sts.private.example", "AWS_ENDPOINT_URL_ECR": "https://ecr.private.example"}},
		{name: "no identity", registry: ecrRegistry, env: env{}, wantErr: "this process has no AWS workload identity"},
		{name: "half of IRSA", registry: ecrRegistry, env: env{"AWS_ROLE_ARN": awsRole}, wantErr: "sets only one of AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE"},
		{name: "token file missing", registry: ecrRegistry, env: env{"AWS_ROLE_ARN": awsRole, "AWS_WEB_IDENTITY_TOKEN_FILE": "/nowhere"}, wantErr: "reading the token file: open /nowhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			cloud := cloudfake.NewCloud(t)
			aws := cloudfake.NewAWS(cloud, clock, "eu-west-1")
			// The overridden endpoints are the same fakes under private names.
			cloud.Handle("sts.private.example", cloud.Handler("sts.eu-west-1.amazonaws.com"))
			cloud.Handle("ecr.private.example", cloud.Handler("api.ecr.eu-west-1.amazonaws.com"))
			aws.Trust(awsRole, "imageconfig-system", "controller-manager")
			if tt.trustSA != "" {
				ns, name, _ := strings.Cut(tt.trustSA, "/")
				tt.env["file:"+tt.env["AWS_WEB_IDENTITY_TOKEN_FILE"]] = cloudfake.ServiceAccountToken(ns, name, "sts.amazonaws.com", clock.Now().Add(time.Hour)) + "\n"
			}
			b := newBroker(t, cloud, clock, tt.env, cloudauth.Hooks{})
			c, err := b.Credentials(context.Background(), cloudauth.AWS, tt.registry, cloudauth.Identity{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || cloudauth.Reason(err) != "ProviderIdentityInvalid" {
					t.Fatalf("error = %v (reason %q), want ProviderIdentityInvalid saying %q", err, cloudauth.Reason(err), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !aws.ValidPassword(c.Username, c.Password) {
				t.Errorf("the registry would refuse %v", c)
			}
			if want := "provider aws via controller (role " + awsRole + ")"; c.Source != want {
				t.Errorf("Source = %q, want %q", c.Source, want)
			}
			if aws.Calls.Get(tt.wantCall) != 1 {
				t.Errorf("%s calls = %d, want 1", tt.wantCall, aws.Calls.Get(tt.wantCall))
			}
			if _, overridden := tt.env["AWS_ENDPOINT_URL_STS"]; overridden {
				for _, h := range []string{"sts.private.example", "ecr.private.example"} {
					if cloud.Requests(h) != 1 {
						t.Errorf("requests to %s = %d, want 1", h, cloud.Requests(h))
					}
				}
				if n := cloud.Requests("sts.eu-west-1.amazonaws.com"); n != 0 {
					t.Errorf("the default STS endpoint got %d requests", n)
				}
			}
		})
	}
}
