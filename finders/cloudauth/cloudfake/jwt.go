package cloudfake

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Claims are the claims of a service-account token the fakes look at.
type Claims struct {
	// Subject is "system:serviceaccount:<namespace>:<name>".
	Subject string
	// Audience is the token's audiences.
	Audience []string
	// Expiry is when the token stops being valid.
	Expiry time.Time
}

// ServiceAccountToken makes an unsigned JWT with the claims a Kubernetes
// service-account token has, for unit tests; envtest issues real ones.
func ServiceAccountToken(namespace, name, audience string, expiry time.Time) string {
	return JWT(map[string]any{
		"iss": "https://kubernetes.default.svc",
		"sub": "system:serviceaccount:" + namespace + ":" + name,
		"aud": []string{audience},
		"exp": expiry.Unix(),
	})
}

// JWT encodes claims as an unsigned JWT.
func JWT(claims map[string]any) string {
	enc := base64.RawURLEncoding
	payload, _ := json.Marshal(claims)
	return enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString([]byte("not-verified"))
}

// ParseToken reads a JWT's claims without verifying its signature.
func ParseToken(token string) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, errors.New("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return Claims{}, fmt.Errorf("JWT payload: %w", err)
	}
	var raw struct {
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp int64           `json:"exp"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return Claims{}, fmt.Errorf("JWT claims: %w", err)
	}
	c := Claims{Subject: raw.Sub, Expiry: time.Unix(raw.Exp, 0)}
	var one string
	if json.Unmarshal(raw.Aud, &one) == nil {
		c.Audience = []string{one}
	} else if err := json.Unmarshal(raw.Aud, &c.Audience); err != nil {
		return Claims{}, fmt.Errorf("JWT aud: %w", err)
	}
	return c, nil
}

// check verifies a token's audience and expiry, and returns its subject.
func check(token, audience string, now time.Time) (string, error) {
	c, err := ParseToken(token)
	if err != nil {
		return "", err
	}
	if !now.Before(c.Expiry) {
		return "", fmt.Errorf("token expired at %s", c.Expiry.UTC().Format(time.RFC3339))
	}
	for _, a := range c.Audience {
		if a == audience {
			return c.Subject, nil
		}
	}
	return "", fmt.Errorf("token audience %v does not include %q", c.Audience, audience)
}
