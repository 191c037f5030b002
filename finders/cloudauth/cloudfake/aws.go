package cloudfake

import (
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// AWS fakes STS's AssumeRoleWithWebIdentity and the GetAuthorizationToken of ECR
// and ECR Public, as documented in the STS API reference (Query protocol, XML
// answers) and the ECR API reference (JSON 1.1 protocol).
type AWS struct {
	// Clock is the fakes' time.
	Clock Clock
	// CredentialLifetime is how long STS credentials live (default 1h).
	CredentialLifetime time.Duration
	// TokenLifetime is how long an ECR authorization token lives (default 12h).
	TokenLifetime time.Duration
	// ExpiresAtShift moves the expiresAt ECR reports, to fake a skewed clock.
	ExpiresAtShift time.Duration
	// STSFaults and ECRFaults inject failures.
	STSFaults, ECRFaults Faults
	// Calls counts "sts", "ecr" and "ecr-public" calls.
	Calls Counter

	mu       sync.Mutex
	trust    map[string]string // role ARN -> the token subject its trust policy allows
	sessions map[string]string // access key ID -> session token
	tokens   map[string]time.Time
}

// NewAWS registers STS for region, us-east-1 and the global endpoint, ECR for region and
// ECR Public on cloud.
func NewAWS(cloud *Cloud, clock Clock, region string) *AWS {
	a := &AWS{Clock: clock, trust: map[string]string{}, sessions: map[string]string{}, tokens: map[string]time.Time{}}
	cloud.Handle("sts.amazonaws.com", http.HandlerFunc(a.sts))
	cloud.Handle("sts."+region+".amazonaws.com", http.HandlerFunc(a.sts))
	cloud.Handle("sts.us-east-1.amazonaws.com", http.HandlerFunc(a.sts)) // ECR Public's region
	cloud.Handle("api.ecr."+region+".amazonaws.com", http.HandlerFunc(a.ecr))
	cloud.Handle("api.ecr-public.us-east-1.amazonaws.com", http.HandlerFunc(a.ecr))
	return a
}

// Trust makes role assumable by the service account namespace/name: the role
// trust policy's condition on the token's sub.
func (a *AWS) Trust(role, namespace, name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.trust[role] = "system:serviceaccount:" + namespace + ":" + name
}

// ValidPassword reports whether an ECR token password was issued and is unexpired:
// the registry's check of basic credentials with user "AWS".
func (a *AWS) ValidPassword(user, pass string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.tokens[pass]
	return user == "AWS" && ok && a.Clock.Now().Before(exp)
}

type stsError struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Error   struct {
		Type, Code, Message string
	}
	RequestID string `xml:"RequestId"`
}

func writeSTSError(w http.ResponseWriter, status int, code, msg string) {
	e := stsError{RequestID: random(8)}
	e.Error.Type, e.Error.Code, e.Error.Message = "Sender", code, msg
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(e)
}

func (a *AWS) sts(w http.ResponseWriter, r *http.Request) {
	a.Calls.inc("sts")
	if a.STSFaults.fail(w) {
		return
	}
	if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("Action") != "AssumeRoleWithWebIdentity" || r.PostForm.Get("Version") != "2011-06-15" {
		writeSTSError(w, http.StatusBadRequest, "InvalidAction", "want POST Action=AssumeRoleWithWebIdentity&Version=2011-06-15")
		return
	}
	role, session := r.PostForm.Get("RoleArn"), r.PostForm.Get("RoleSessionName")
	if session == "" || len(session) > 64 {
		writeSTSError(w, http.StatusBadRequest, "ValidationError", "RoleSessionName must have 2 to 64 characters")
		return
	}
	now := a.Clock.Now()
	sub, err := check(r.PostForm.Get("WebIdentityToken"), "sts.amazonaws.com", now)
	if err != nil {
		code := "InvalidIdentityToken"
		if strings.Contains(err.Error(), "expired") {
			code = "ExpiredTokenException"
		}
		writeSTSError(w, http.StatusBadRequest, code, err.Error())
		return
	}
	a.mu.Lock()
	allowed, ok := a.trust[role]
	a.mu.Unlock()
	if !ok || allowed != sub {
		writeSTSError(w, http.StatusForbidden, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
		return
	}
	life := a.CredentialLifetime
	if life == 0 {
		life = time.Hour
	}
	akid, secret, token := "ASIA"+strings.ToUpper(random(8)), random(20), random(32)
	a.mu.Lock()
	a.sessions[akid] = token
	a.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>%s</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser><Arn>%s/%s</Arn><AssumedRoleId>AROA%s:%s</AssumedRoleId></AssumedRoleUser>
    <Credentials>
      <SessionToken>%s</SessionToken>
      <SecretAccessKey>%s</SecretAccessKey>
      <Expiration>%s</Expiration>
      <AccessKeyId>%s</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`, sub, role, session, random(4), session, token, secret, now.Add(life).UTC().Format(time.RFC3339), akid, random(8))
}

func writeJSONError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func (a *AWS) ecr(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	public := strings.HasPrefix(r.Host, "api.ecr-public.")
	step, want := "ecr", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
	if public {
		step, want = "ecr-public", "SpencerFrontendService.GetAuthorizationToken"
	}
	a.Calls.inc(step)
	if a.ECRFaults.fail(w) {
		return
	}
	if r.Method != http.MethodPost || target != want {
		writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", "want X-Amz-Target "+want)
		return
	}
	// SigV4: Authorization names the access key; a session needs its token.
	auth := r.Header.Get("Authorization")
	akid, _, _ := strings.Cut(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256 Credential="), "/")
	a.mu.Lock()
	session, ok := a.sessions[akid]
	a.mu.Unlock()
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=") || !ok || r.Header.Get("X-Amz-Security-Token") != session {
		writeJSONError(w, http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
		return
	}
	life := a.TokenLifetime
	if life == 0 {
		life = 12 * time.Hour
	}
	pass := random(24)
	exp := a.Clock.Now().Add(life)
	a.mu.Lock()
	a.tokens[pass] = exp
	a.mu.Unlock()
	data := map[string]any{
		"authorizationToken": base64.StdEncoding.EncodeToString([]byte("AWS:" + pass)),
		"expiresAt":          float64(exp.Add(a.ExpiresAtShift).UnixMilli()) / 1000,
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if public {
		_ = json.NewEncoder(w).Encode(map[string]any{"authorizationData": data})
		return
	}
	data["proxyEndpoint"] = "https://" + r.Host
	_ = json.NewEncoder(w).Encode(map[string]any{"authorizationData": []any{data}})
}
