package cloudauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// The AWS annotation, audience and environment, as EKS's IRSA webhook sets them.
const (
	// AWSRoleARNAnnotation names the IAM role a service account assumes.
	AWSRoleARNAnnotation = "eks.amazonaws.com/role-arn"
	// AWSAudience is the audience of the service-account token STS accepts.
	AWSAudience = "sts.amazonaws.com"
)

// awsRoleARN is an IAM role ARN in any partition.
var awsRoleARN = regexp.MustCompile(`^arn:aws(-cn|-us-gov|-iso|-iso-b|-iso-e|-iso-f)?:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)

// awsSessionName keeps the characters STS allows in a RoleSessionName.
var awsSessionName = regexp.MustCompile(`[^\w+=,.@-]`)

func (b *Broker) awsPlan(reg Registry, id Identity) (plan, error) {
	if id.ServiceAccount == "" {
		return b.awsControllerPlan(reg, id)
	}
	role, ok := id.Annotations[AWSRoleARNAnnotation]
	if !ok || role == "" {
		return plan{}, &IdentityError{AWS, fmt.Sprintf("serviceaccount %s has no %s annotation: set it to the ARN of the IAM role to assume", id.ServiceAccount, AWSRoleARNAnnotation)}
	}
	if !awsRoleARN.MatchString(role) {
		return plan{}, &IdentityError{AWS, fmt.Sprintf("serviceaccount %s: annotation %s=%q is not an IAM role ARN such as arn:aws:iam::123456789012:role/name", id.ServiceAccount, AWSRoleARNAnnotation, role)}
	}
	session := "imageconfig-" + strings.ReplaceAll(id.ServiceAccount, "/", ".")
	token := func(ctx context.Context) (string, error) { return id.Token(ctx, AWSAudience) }
	return plan{
		key:    identityKey(id, role),
		source: fmt.Sprintf("provider aws via %s (role %s)", identityName(id), role),
		exchange: func(ctx context.Context) (Credentials, error) {
			return b.awsWebIdentity(ctx, reg, role, session, token)
		},
	}, nil
}

// awsControllerPlan uses the pod's own identity: IRSA's AWS_ROLE_ARN and
// AWS_WEB_IDENTITY_TOKEN_FILE, else EKS Pod Identity's
// AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.
func (b *Broker) awsControllerPlan(reg Registry, id Identity) (plan, error) {
	env := b.opts.Getenv
	if role, file := env("AWS_ROLE_ARN"), env("AWS_WEB_IDENTITY_TOKEN_FILE"); role != "" || file != "" {
		if role == "" || file == "" {
			return plan{}, &IdentityError{AWS, "the environment sets only one of AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE; IRSA sets both"}
		}
		if !awsRoleARN.MatchString(role) {
			return plan{}, &IdentityError{AWS, fmt.Sprintf("AWS_ROLE_ARN %q is not an IAM role ARN", role)}
		}
		session := env("AWS_ROLE_SESSION_NAME")
		if session == "" {
			session = "imageconfig-controller"
		}
		return plan{
			key:    identityKey(id, role),
			source: fmt.Sprintf("provider aws via controller (role %s)", role),
			exchange: func(ctx context.Context) (Credentials, error) {
				return b.awsWebIdentity(ctx, reg, role, session, b.tokenFile(AWS, file))
			},
		}, nil
	}
	if uri, file := env("AWS_CONTAINER_CREDENTIALS_FULL_URI"), env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); uri != "" && file != "" {
		return plan{
			key:    identityKey(id, uri),
			source: "provider aws via controller (EKS Pod Identity)",
			exchange: func(ctx context.Context) (Credentials, error) {
				creds, err := b.awsPodIdentity(ctx, uri, file)
				if err != nil {
					return Credentials{}, err
				}
				return b.awsRegistryToken(ctx, reg, creds)
			},
		}, nil
	}
	return plan{}, &IdentityError{AWS, "this process has no AWS workload identity: neither AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE (IRSA) nor AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (EKS Pod Identity) is set"}
}

// tokenFile reads a projected token file, afresh at each exchange: the kubelet rotates it.
func (b *Broker) tokenFile(p Provider, path string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		data, err := b.opts.ReadFile(path)
		if err != nil {
			return "", &IdentityError{p, fmt.Sprintf("reading the token file: %v", err)}
		}
		if t := strings.TrimSpace(string(data)); t != "" {
			return t, nil
		}
		return "", &IdentityError{p, fmt.Sprintf("the token file %s is empty", path)}
	}
}

// awsEndpoint is the endpoint the AWS SDK's shared configuration would take from
// AWS_ENDPOINT_URL_<SERVICE> or AWS_ENDPOINT_URL, or nil for the default.
func (b *Broker) awsEndpoint(service string) *string {
	for _, k := range []string{"AWS_ENDPOINT_URL_" + service, "AWS_ENDPOINT_URL"} {
		if v := b.opts.Getenv(k); v != "" {
			return aws.String(v)
		}
	}
	return nil
}

func (b *Broker) awsWebIdentity(ctx context.Context, reg Registry, role, session string, token func(context.Context) (string, error)) (Credentials, error) {
	jwt, err := token(ctx)
	if err != nil {
		return Credentials{}, tokenError(AWS, err)
	}
	client := sts.New(sts.Options{
		Region:       reg.AWSRegion,
		HTTPClient:   b.opts.HTTPClient,
		BaseEndpoint: b.awsEndpoint("STS"),
		Retryer:      aws.NopRetryer{},
	})
	out, err := client.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn:          aws.String(role),
		RoleSessionName:  aws.String(awsSessionName.ReplaceAllString(truncate(session, 64), "_")),
		WebIdentityToken: aws.String(jwt),
	})
	if err != nil {
		return Credentials{}, awsError("sts", err)
	}
	c := out.Credentials
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil {
		return Credentials{}, &ExchangeError{Provider: AWS, Step: "sts", Err: errors.New("the answer has no credentials")}
	}
	return b.awsRegistryToken(ctx, reg, aws.Credentials{
		AccessKeyID:     *c.AccessKeyId,
		SecretAccessKey: *c.SecretAccessKey,
		SessionToken:    aws.ToString(c.SessionToken),
		Source:          "AssumeRoleWithWebIdentity",
	})
}

// awsRegistryToken calls ECR's (or ECR Public's) GetAuthorizationToken.
func (b *Broker) awsRegistryToken(ctx context.Context, reg Registry, creds aws.Credentials) (Credentials, error) {
	provider := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
	var (
		token   *string
		expires *time.Time
		step    = "ecr"
	)
	if reg.AWSPublic {
		step = "ecr-public"
		client := ecrpublic.New(ecrpublic.Options{
			Region: "us-east-1", HTTPClient: b.opts.HTTPClient, Credentials: provider,
			BaseEndpoint: b.awsEndpoint("ECR_PUBLIC"), Retryer: aws.NopRetryer{},
		})
		out, err := client.GetAuthorizationToken(ctx, &ecrpublic.GetAuthorizationTokenInput{})
		if err != nil {
			return Credentials{}, awsError(step, err)
		}
		if out.AuthorizationData != nil {
			token, expires = out.AuthorizationData.AuthorizationToken, out.AuthorizationData.ExpiresAt
		}
	} else {
		opts := ecr.Options{
			Region: reg.AWSRegion, HTTPClient: b.opts.HTTPClient, Credentials: provider,
			BaseEndpoint: b.awsEndpoint("ECR"), Retryer: aws.NopRetryer{},
		}
		if strings.Contains(reg.Host, "-fips.") {
			opts.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
		}
		out, err := ecr.New(opts).GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
		if err != nil {
			return Credentials{}, awsError(step, err)
		}
		if len(out.AuthorizationData) > 0 {
			token, expires = out.AuthorizationData[0].AuthorizationToken, out.AuthorizationData[0].ExpiresAt
		}
	}
	if token == nil || expires == nil {
		return Credentials{}, &ExchangeError{Provider: AWS, Step: step, Err: errors.New("the answer has no authorizationToken with expiresAt")}
	}
	raw, err := base64.StdEncoding.DecodeString(*token)
	user, pass, ok := strings.Cut(string(raw), ":")
	if err != nil || !ok || user == "" || pass == "" {
		return Credentials{}, &ExchangeError{Provider: AWS, Step: step, Err: errors.New("the authorizationToken is not base64 of user:password")}
	}
	if err := b.checkExpiry(AWS, step, *expires); err != nil {
		return Credentials{}, err
	}
	return Credentials{Username: user, Password: pass, ExpiresAt: *expires}, nil
}

// awsPodIdentity asks the EKS Pod Identity agent for the pod's credentials.
func (b *Broker) awsPodIdentity(ctx context.Context, uri, file string) (aws.Credentials, error) {
	auth, err := b.tokenFile(AWS, file)(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return aws.Credentials{}, &IdentityError{AWS, fmt.Sprintf("AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL: %v", err)}
	}
	req.Header.Set("Authorization", auth)
	var out struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
		Token           string
		Expiration      time.Time
	}
	if err := b.doJSON(req, AWS, "pod-identity", &out); err != nil {
		return aws.Credentials{}, err
	}
	if out.AccessKeyID == "" || out.SecretAccessKey == "" {
		return aws.Credentials{}, &ExchangeError{Provider: AWS, Step: "pod-identity", Err: errNoToken}
	}
	return aws.Credentials{AccessKeyID: out.AccessKeyID, SecretAccessKey: out.SecretAccessKey, SessionToken: out.Token, Source: "EKS Pod Identity"}, nil
}

// awsError turns an SDK error into an *ExchangeError.
func awsError(step string, err error) error {
	e := &ExchangeError{Provider: AWS, Step: step, Err: err, Transient: true}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		e.StatusCode = re.HTTPStatusCode()
		e.Transient = e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.Code = ae.ErrorCode()
		e.Err = errors.New(truncate(ae.ErrorMessage(), 300))
		if e.StatusCode == 0 {
			e.Transient = ae.ErrorFault() == smithy.FaultServer
		}
	}
	return e
}

// tokenError wraps the failure of an Identity's Token function.
func tokenError(p Provider, err error) error {
	var ie *IdentityError
	if errors.As(err, &ie) {
		return err
	}
	return &ExchangeError{Provider: p, Step: "token-request", Err: err, Transient: true}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
