package cloudauth

import (
	"net"
	"regexp"
	"strings"
)

// ecrHost matches a private ECR registry: <account>.dkr.ecr[-fips].<region>.<domain>,
// including the China partition (amazonaws.com.cn), the dual-stack names
// (<account>.dkr-ecr.<region>.on.aws) and the isolated partitions.
var ecrHost = regexp.MustCompile(`^([0-9]{12})\.(?:dkr\.ecr(?:-fips)?|dkr-ecr(?:-fips)?)\.([a-z0-9-]+)\.(amazonaws\.com|amazonaws\.com\.cn|on\.aws|on\.amazonwebservices\.com\.cn|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$`)

// ecrPublicHost is ECR Public's only registry.
const ecrPublicHost = "public.ecr.aws"

// gcpHost matches Artifact Registry (<location>-docker.pkg.dev) and Container
// Registry (gcr.io, us.gcr.io, eu.gcr.io, asia.gcr.io).
var gcpHost = regexp.MustCompile(`^(?:[a-z0-9-]+-docker\.pkg\.dev|(?:[a-z]+\.)?gcr\.io)$`)

// azureHost matches an Azure Container Registry in the public cloud and the
// sovereign clouds: azurecr.io, azurecr.cn (China), azurecr.us (US Government).
var azureHost = regexp.MustCompile(`^[a-z0-9]{5,50}\.(azurecr\.io|azurecr\.cn|azurecr\.us)$`)

// Registry is what the host of a cloud registry says about where to authenticate.
type Registry struct {
	// Host is the registry's host name, lowercased, without a port.
	Host string
	// Provider is the cloud the registry belongs to, or Generic.
	Provider Provider
	// AWSAccount and AWSRegion are parsed from a private ECR host.
	AWSAccount, AWSRegion string
	// AWSPublic is true for public.ecr.aws.
	AWSPublic bool
	// AzureCloud is the suffix of an ACR host: "azurecr.io", "azurecr.cn" or "azurecr.us".
	AzureCloud string
}

// ParseRegistry recognises the cloud a registry host belongs to. A host that
// belongs to no cloud has Provider Generic. A port is ignored: the clouds serve
// their registries on 443 only, and a test may put a fake behind another one.
func ParseRegistry(host string) Registry {
	h := strings.ToLower(host)
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	r := Registry{Host: h, Provider: Generic}
	switch {
	case h == ecrPublicHost:
		r.Provider, r.AWSPublic, r.AWSRegion = AWS, true, "us-east-1"
	case ecrHost.MatchString(h):
		m := ecrHost.FindStringSubmatch(h)
		r.Provider, r.AWSAccount, r.AWSRegion = AWS, m[1], m[2]
	case gcpHost.MatchString(h):
		r.Provider = GCP
	case azureHost.MatchString(h):
		r.Provider = Azure
		r.AzureCloud = azureHost.FindStringSubmatch(h)[1]
	}
	return r
}

// checkRegistry returns a *RegistryMismatchError when host does not belong to p.
func checkRegistry(p Provider, host string) (Registry, error) {
	r := ParseRegistry(host)
	if r.Provider != p {
		return r, &RegistryMismatchError{Provider: p, Registry: host, BelongsTo: r.Provider}
	}
	return r, nil
}
