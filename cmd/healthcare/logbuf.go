package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logBuffer batches log lines into few writes. Without it every access
// log line is its own write(2): at thousands of requests per second that
// was about 4% of the server's CPU (docs/benchmarks.md). Lines are flushed
// when the buffer fills and at least every interval, and on Close, so a
// line is at most that late and nothing is lost on a clean shutdown; a
// crash (SIGKILL) loses at most one interval of lines.
type logBuffer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newLogBuffer(w io.Writer, size int, interval time.Duration) *logBuffer {
	b := &logBuffer{w: bufio.NewWriterSize(w, size), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.flush()
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// Write takes one whole line (zerolog writes each event with one call).
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *logBuffer) flush() {
	b.mu.Lock()
	_ = b.w.Flush()
	b.mu.Unlock()
}

// Close stops the ticker and writes what is buffered.
func (b *logBuffer) Close() error {
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Flush()
}
