package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// startServe runs `imageconfig serve` on a random loopback port and returns its URL.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, append([]string{"serve", "--address", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if i := strings.Index(s.Text(), "http://"); i >= 0 {
				line <- strings.Fields(s.Text()[i:])[0]
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case u := <-line:
		return strings.TrimSuffix(u, "/")
	case <-time.After(20 * time.Second):
		t.Fatal("imageconfig serve printed no URL")
		return ""
	}
}

func fetch(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET %s: no Content-Security-Policy", u)
	}
	return resp.StatusCode, string(b)
}

func TestServe(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	idx, _ := testregistry.MultiArch(t)
	reg.PushIndex(t, "demo/hello", "1.0", idx)
	img := testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"small", strings.Repeat("big", 400), "medium-sized"}, EmptyLayersBetween: true, Config: testregistry.RichConfig()})
	reg.PushImage(t, "demo/steps", "v1", img)
	base := startServe(t, "--insecure")

	page := func(ref, platform string) string {
		return base + "/image?" + url.Values{"ref": {ref}, "platform": {platform}}.Encode()
	}

	code, body := fetch(t, base+"/")
	if code != 200 || !strings.Contains(body, `action="/image"`) || !strings.Contains(body, "There are no ImageConfigs yet") {
		t.Fatalf("GET / = %d, want the form and an empty list:\n%s", code, body)
	}

	reg.Log().Reset()
	code, body = fetch(t, page(reg.Host()+"/demo/hello:1.0", "linux/arm/v7"))
	if code != 200 {
		t.Fatalf("GET the demo image = %d:\n%s", code, body)
	}
	for _, want := range []string{"Ready</span>", "linux/arm/v7 <strong class=\"tag\">selected</strong>", "PLATFORM=linux/arm/v7", `class="layers"`, "imageconfig summary " + reg.Host() + "/demo/hello:1.0 --platform linux/arm/v7 --insecure"} {
		if !strings.Contains(body, want) {
			t.Errorf("the image page lacks %q", want)
		}
	}
	first := len(reg.Log().Requests())
	if first == 0 {
		t.Fatal("no registry request was made")
	}
	if code, _ := fetch(t, page(reg.Host()+"/demo/hello:1.0", "linux/arm/v7")); code != 200 || len(reg.Log().Requests()) != first {
		t.Errorf("a second look made %d more registry requests, want 0 (cached)", len(reg.Log().Requests())-first)
	}
	if _, body := fetch(t, base+"/"); !strings.Contains(body, `<a href="/image?platform=linux%2Farm%2Fv7&amp;ref=`+url.QueryEscape(reg.Host()+"/demo/hello:1.0")) {
		t.Errorf("the list does not show the cached resolution:\n%s", body)
	}

	// History with empty steps, and the layers largest first.
	_, body = fetch(t, page(reg.Host()+"/demo/steps:v1", "")+"&sort=size")
	if n := strings.Count(body, `class="empty-step"`); n != 2 {
		t.Errorf("%d greyed empty steps, want 2", n)
	}
	if i, j := strings.Index(body, "RUN bigbig"), strings.Index(body, "RUN medium-sized"); i < 0 || j < 0 || i > j {
		t.Errorf("?sort=size does not put the largest layer first")
	}

	// A failing reference shows what it asks for and why.
	code, body = fetch(t, page(reg.Host()+"/demo/hello:nope", "linux/arm64"))
	if code != 200 || !strings.Contains(body, "Stalled: NotFound") || !strings.Contains(body, reg.Host()+"/demo/hello:nope") || !strings.Contains(body, "linux/arm64/v8") {
		t.Errorf("a missing tag: %d\n%s", code, body)
	}
	// Bad input is a 400 that names it.
	if code, body := fetch(t, page("UPPER/case", "")); code != 400 || !strings.Contains(body, "UPPER") {
		t.Errorf("a bad reference = %d\n%s", code, body)
	}
	if code, body := fetch(t, page(reg.Host()+"/demo/hello:1.0", "linux")); code != 400 || !strings.Contains(body, "platform") {
		t.Errorf("a bad platform = %d\n%s", code, body)
	}

	// Loopback only answers loopback names.
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Host = "rebind.example:8083"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("Host rebind.example = %d, want 421", resp.StatusCode)
	}
}
