package flight

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func TestGroupCoalesces(t *testing.T) {
	var g Group
	var calls atomic.Int32
	release := make(chan struct{})
	fn := func(ctx context.Context) (any, error) {
		calls.Add(1)
		<-release
		return "v", nil
	}
	results := make(chan any, 5)
	for range 5 {
		go func() {
			v, _ := g.Do(context.Background(), "k", time.Minute, fn)
			results <- v
		}()
	}
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others join
	close(release)
	for range 5 {
		if v := <-results; v != "v" {
			t.Fatalf("got %v", v)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("%d calls, want 1", calls.Load())
	}
}

// TestGroupWaiterOutlivesFirstCaller: the first caller's cancellation neither
// ends the call nor reaches a waiter; the first caller returns at once.
func TestGroupWaiterOutlivesFirstCaller(t *testing.T) {
	var g Group
	release := make(chan struct{})
	started := make(chan struct{})
	var callCtxErr atomic.Value
	fn := func(ctx context.Context) (any, error) {
		close(started)
		<-release
		callCtxErr.Store(fmt.Sprint(ctx.Err())) // "<nil>" when not cancelled
		return "v", nil
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := g.Do(ctx1, "k", time.Minute, fn)
		first <- err
	}()
	<-started
	second := make(chan any, 1)
	go func() {
		v, _ := g.Do(context.Background(), "k", time.Minute, fn)
		second <- v
	}()
	time.Sleep(10 * time.Millisecond)
	cancel1()
	select {
	case err := <-first:
		var e *WaitError
		if !errors.As(err, &e) || !errors.Is(err, context.Canceled) {
			t.Fatalf("first caller: err = %v, want a *WaitError wrapping context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the cancelled first caller is still waiting")
	}
	close(release)
	if v := <-second; v != "v" {
		t.Fatalf("waiter got %v", v)
	}
	if got := callCtxErr.Load(); got != "<nil>" {
		t.Errorf("the call saw the first caller's cancellation: %v", got)
	}
}

func TestGroupTimeoutBoundsTheCall(t *testing.T) {
	var g Group
	_, err := g.Do(context.Background(), "k", 20*time.Millisecond, func(ctx context.Context) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the call's own deadline", err)
	}
}

func TestGroupPanicReleasesWaiters(t *testing.T) {
	var g Group
	release := make(chan struct{})
	fn := func(context.Context) (any, error) {
		<-release
		panic("boom")
	}
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := g.Do(context.Background(), "k", time.Minute, fn)
			errs <- err
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	for range 3 {
		select {
		case err := <-errs:
			if err == nil {
				t.Fatal("a panicking call answered without an error")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a waiter is blocked by a panicking call")
		}
	}
	// The key is free again.
	v, err := g.Do(context.Background(), "k", time.Minute, func(context.Context) (any, error) { return 1, nil })
	if err != nil || v != 1 {
		t.Fatalf("after the panic: %v %v", v, err)
	}
}
