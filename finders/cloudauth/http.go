package cloudauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxAnswer bounds what is read of a provider's answer.
const maxAnswer = 1 << 20

// doJSON sends req and decodes a 2xx JSON answer into out. A network error or a
// 5xx or 429 is a transient *ExchangeError; another status is a refusal, with the
// provider's error code and message when the body has one.
func (b *Broker) doJSON(req *http.Request, p Provider, step string, out any) error {
	body, status, err := b.do(req, p, step)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &ExchangeError{Provider: p, Step: step, StatusCode: status, Err: fmt.Errorf("the answer is not the expected JSON: %w", err)}
	}
	return nil
}

// do sends req and returns a 2xx answer's body; see doJSON for the errors.
func (b *Broker) do(req *http.Request, p Provider, step string) ([]byte, int, error) {
	resp, err := b.opts.HTTPClient.Do(req)
	if err != nil {
		// The URL may carry no secret (tokens go in bodies and headers), but keep
		// the message to the host.
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return nil, 0, &ExchangeError{Provider: p, Step: step, Transient: true, Err: fmt.Errorf("%s %s: %w", req.Method, req.URL.Host, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, resp.StatusCode, &ExchangeError{Provider: p, Step: step, StatusCode: resp.StatusCode, Transient: true, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		code, msg := errorBody(body)
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return nil, resp.StatusCode, &ExchangeError{Provider: p, Step: step, StatusCode: resp.StatusCode, Code: code,
			Transient: resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests,
			Err:       errors.New(truncate(msg, 300))}
	}
	return body, resp.StatusCode, nil
}

// errorBody reads the error code and message of the shapes the providers use:
// OAuth 2.0 ({"error": "invalid_grant", "error_description": "…"}), Google APIs
// ({"error": {"status": "PERMISSION_DENIED", "message": "…"}}) and the
// distribution registries ({"errors": [{"code": "UNAUTHORIZED", "message": "…"}]}).
func errorBody(body []byte) (code, msg string) {
	var v struct {
		Error            json.RawMessage `json:"error"`
		ErrorDescription string          `json:"error_description"`
		Errors           []struct {
			Code, Message string
		} `json:"errors"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", strings.TrimSpace(truncate(string(body), 200))
	}
	var s string
	if json.Unmarshal(v.Error, &s) == nil && s != "" {
		return s, v.ErrorDescription
	}
	var g struct{ Status, Message string }
	if json.Unmarshal(v.Error, &g) == nil && (g.Status != "" || g.Message != "") {
		return g.Status, g.Message
	}
	if len(v.Errors) > 0 {
		return v.Errors[0].Code, v.Errors[0].Message
	}
	return "", ""
}
