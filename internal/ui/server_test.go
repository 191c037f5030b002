package ui_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/imageconfig/imageconfig-operator/internal/ui"
)

func TestServerStartsAndStops(t *testing.T) {
	addr := make(chan string, 1)
	srv := &ui.Server{Addr: "127.0.0.1:0", Handler: newHandler(t, fleet()), Listening: func(a string) { addr <- a }}
	if srv.NeedLeaderElection() {
		t.Error("NeedLeaderElection = true; every replica should serve the UI")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	base := "http://" + <-addr

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) == 0 {
		t.Errorf("GET / = %d", resp.StatusCode)
	}
	// Bound on loopback, it refuses other host names.
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Host = "attacker.example"
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("Host attacker.example = %d, want 421", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Start returned %v after its context ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Start did not return after its context ended")
	}
}

func TestServerBadAddress(t *testing.T) {
	srv := &ui.Server{Addr: "127.0.0.1:notaport", Handler: http.NotFoundHandler()}
	if err := srv.Start(context.Background()); err == nil {
		t.Fatal("Start on a bad address returned nil")
	}
}
