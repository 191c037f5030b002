package cloudauth_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imageconfig/imageconfig-operator/finders/cloudauth"
)

func TestParseRegistry(t *testing.T) {
	tests := []struct {
		host string
		want cloudauth.Registry
	}{
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com", cloudauth.Registry{Host: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", Provider: cloudauth.AWS, AWSAccount: "123456789012", AWSRegion: "eu-west-1"}},
		{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", cloudauth.Registry{Host: "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", Provider: cloudauth.AWS, AWSAccount: "123456789012", AWSRegion: "cn-north-1"}},
		{"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", cloudauth.Registry{Host: "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", Provider: cloudauth.AWS, AWSAccount: "123456789012", AWSRegion: "us-gov-west-1"}},
		{"123456789012.dkr-ecr.us-east-2.on.aws", cloudauth.Registry{Host: "123456789012.dkr-ecr.us-east-2.on.aws", Provider: cloudauth.AWS, AWSAccount: "123456789012", AWSRegion: "us-east-2"}},
		{"123456789012.DKR.ECR.eu-west-1.amazonaws.com:443", cloudauth.Registry{Host: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", Provider: cloudauth.AWS, AWSAccount: "123456789012", AWSRegion: "eu-west-1"}},
		{"public.ecr.aws", cloudauth.Registry{Host: "public.ecr.aws", Provider: cloudauth.AWS, AWSPublic: true, AWSRegion: "us-east-1"}},
		{"europe-west1-docker.pkg.dev", cloudauth.Registry{Host: "europe-west1-docker.pkg.dev", Provider: cloudauth.GCP}},
		{"gcr.io", cloudauth.Registry{Host: "gcr.io", Provider: cloudauth.GCP}},
		{"eu.gcr.io", cloudauth.Registry{Host: "eu.gcr.io", Provider: cloudauth.GCP}},
		{"myregistry.azurecr.io", cloudauth.Registry{Host: "myregistry.azurecr.io", Provider: cloudauth.Azure, AzureCloud: "azurecr.io"}},
		{"myregistry.azurecr.cn", cloudauth.Registry{Host: "myregistry.azurecr.cn", Provider: cloudauth.Azure, AzureCloud: "azurecr.cn"}},
		{"myregistry.azurecr.us", cloudauth.Registry{Host: "myregistry.azurecr.us", Provider: cloudauth.Azure, AzureCloud: "azurecr.us"}},
		// Look-alikes belong to no provider.
		{"12345678901.dkr.ecr.eu-west-1.amazonaws.com", cloudauth.Registry{Host: "12345678901.dkr.ecr.eu-west-1.amazonaws.com", Provider: cloudauth.Generic}},
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example", cloudauth.Registry{Host: "123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example", Provider: cloudauth.Generic}},
		{"gcr.io.evil.example", cloudauth.Registry{Host: "gcr.io.evil.example", Provider: cloudauth.Generic}},
		{"docker.pkg.dev", cloudauth.Registry{Host: "docker.pkg.dev", Provider: cloudauth.Generic}},
		{"azurecr.io", cloudauth.Registry{Host: "azurecr.io", Provider: cloudauth.Generic}},
		{"a.b.azurecr.io", cloudauth.Registry{Host: "a.b.azurecr.io", Provider: cloudauth.Generic}},
		{"ghcr.io", cloudauth.Registry{Host: "ghcr.io", Provider: cloudauth.Generic}},
		{"registry-1.docker.io", cloudauth.Registry{Host: "registry-1.docker.io", Provider: cloudauth.Generic}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, cloudauth.ParseRegistry(tt.host)); diff != "" {
				t.Errorf("ParseRegistry(%q) (-want +got):\n%s", tt.host, diff)
			}
		})
	}
}

func TestParseProvider(t *testing.T) {
	for in, want := range map[string]cloudauth.Provider{"": cloudauth.Generic, "generic": cloudauth.Generic, "aws": cloudauth.AWS, "gcp": cloudauth.GCP, "azure": cloudauth.Azure} {
		if got, err := cloudauth.ParseProvider(in); err != nil || got != want {
			t.Errorf("ParseProvider(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := cloudauth.ParseProvider("AWS"); err == nil || err.Error() != `unknown provider "AWS": want generic, aws, gcp or azure` {
		t.Errorf("ParseProvider(AWS) error = %v", err)
	}
}
