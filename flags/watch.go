package flags

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
)

// fileWatch is the state of a provider serving a flag file.
type fileWatch struct {
	path     string
	interval time.Duration
	onError  func(error)

	mu      sync.Mutex // serializes reloads
	sum     [32]byte   // SHA-256 of the content last loaded successfully
	loaded  bool
	lastErr error // of the last reload; nil after a good one

	run    sync.Mutex // guards cancel and done
	cancel context.CancelFunc
	done   chan struct{}
}

// Reload reads Config.File and serves it when its content changed since
// the last successful load: flags are added, replaced and removed as in
// [Provider.LoadFlagd], and PROVIDER_CONFIGURATION_CHANGED names the
// changed flags. changed is false when the content is the same. When the
// file cannot be read or is invalid, the provider keeps serving the last
// good definitions, returns the error (naming every problem), emits
// PROVIDER_ERROR with it, and calls Config.OnReloadError; the next good
// load emits PROVIDER_READY. A provider without Config.File returns an
// error.
func (p *Provider) Reload() (changed bool, err error) {
	w := p.file
	if w == nil {
		return false, fmt.Errorf("flags: provider %s serves no file", p.name)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	data, err := os.ReadFile(w.path)
	if err == nil {
		sum := sha256.Sum256(data)
		if w.loaded && sum == w.sum && w.lastErr == nil {
			return false, nil
		}
		if _, err = ParseFlagd(data); err == nil {
			if w.lastErr != nil && w.loaded {
				p.emit(openfeature.ProviderReady, "flag file "+w.path+" is valid again")
			}
			if err = p.LoadFlagd(data); err == nil {
				w.sum, w.loaded, w.lastErr = sum, true, nil
				return true, nil
			}
		}
		err = fmt.Errorf("flags: flag file %s: %w", w.path, err)
	} else {
		err = fmt.Errorf("flags: %w", err)
	}
	w.lastErr = err
	if w.loaded {
		// Only once serving: a provider that never loaded the file fails
		// in NewProvider instead.
		p.emit(openfeature.ProviderError, err.Error()+" (still serving the last good definitions)")
		if w.onError != nil {
			w.onError(err)
		}
	}
	return false, err
}

// ReloadError returns the error of the last reload of Config.File, or nil
// when it succeeded.
func (p *Provider) ReloadError() error {
	if p.file == nil {
		return nil
	}
	p.file.mu.Lock()
	defer p.file.mu.Unlock()
	return p.file.lastErr
}

// emit sends a provider event other than a configuration change without
// blocking: when the channel is full, the oldest events are taken back;
// configuration changes among them are sent again after this event
// (merged), other events are dropped.
func (p *Provider) emit(t openfeature.EventType, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ev := openfeature.Event{ProviderName: p.name, EventType: t, ProviderEventDetails: openfeature.ProviderEventDetails{Message: msg}}
	if t == openfeature.ProviderError {
		ev.ErrorCode = openfeature.GeneralCode
	}
	var pending []string
	for {
		select {
		case p.events <- ev:
			if len(pending) > 0 {
				p.changed(pending...)
			}
			return
		default:
		}
		select {
		case old := <-p.events:
			if old.EventType == openfeature.ProviderConfigChange {
				pending = append(pending, old.FlagChanges...)
			}
		default:
		}
	}
}

// InitWithContext is called by OpenFeature when the provider is
// registered. A provider serving a file reloads it and starts watching it
// (every Config.PollInterval); the watching stops at Shutdown. It returns
// the error of the reload, if any.
func (p *Provider) InitWithContext(ctx context.Context, _ openfeature.EvaluationContext) error {
	if p.file == nil {
		return ctx.Err()
	}
	w := p.file
	w.run.Lock()
	defer w.run.Unlock()
	if w.cancel != nil {
		return nil // already watching
	}
	if _, err := p.Reload(); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go p.watch(wctx, w.done)
	return nil
}

// Init is InitWithContext without a deadline.
func (p *Provider) Init(evalCtx openfeature.EvaluationContext) error {
	return p.InitWithContext(context.Background(), evalCtx)
}

// ShutdownWithContext stops watching the file, waiting for the watching
// goroutine to end or ctx to be done. Flags keep being served to direct
// callers.
func (p *Provider) ShutdownWithContext(ctx context.Context) error {
	if p.file == nil {
		return nil
	}
	w := p.file
	w.run.Lock()
	cancel, done := w.cancel, w.done
	w.cancel, w.done = nil, nil
	w.run.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown is ShutdownWithContext without a deadline.
func (p *Provider) Shutdown() { _ = p.ShutdownWithContext(context.Background()) }

func (p *Provider) watch(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(p.file.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = p.Reload() // errors are reported by Reload
		}
	}
}
