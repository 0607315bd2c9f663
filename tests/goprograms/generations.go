package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Event type bytes that frame a trace (Go's internal/trace/tracev2 numbering).
const (
	evEventBatch        = 1
	evExperimentalBatch = 49
	evEndOfGeneration   = 52
	traceHeaderLen      = 16
)

// generationWatcher passes a trace through to its file and follows the batch framing on the way,
// so that workloads can wait for the runtime to finish trace generations. Timers alone would not
// do: on a loaded machine the runtime advances generations late, and a scenario meant to span
// several generations would span one.
type generationWatcher struct {
	out     io.Writer
	pending []byte
	started bool
	// marksEnds: the format (Go 1.26 on) marks the end of each generation.
	marksEnds      bool
	ends           uint64
	firstGen, last uint64
	// completed is the number of generations fully written, for waitGenerations.
	completed atomic.Uint64
}

// watcher is the watcher of the trace being written now.
var watcher atomic.Pointer[generationWatcher]

func newGenerationWatcher(out io.Writer) *generationWatcher {
	w := &generationWatcher{out: out}
	watcher.Store(w)
	return w
}

func (w *generationWatcher) Write(p []byte) (int, error) {
	n, err := w.out.Write(p)
	w.pending = append(w.pending, p[:n]...)
	w.scan()
	return n, err
}

// scan consumes every complete unit (header, batch, end-of-generation mark) in pending.
func (w *generationWatcher) scan() {
	for {
		if !w.started {
			if len(w.pending) < traceHeaderLen {
				return
			}
			var minor int
			if _, err := fmt.Sscanf(string(w.pending[:traceHeaderLen]), "go 1.%d trace", &minor); err != nil {
				panic("generationWatcher: not a trace header")
			}
			w.marksEnds = minor >= 26
			w.pending = w.pending[traceHeaderLen:]
			w.started = true
			continue
		}
		if len(w.pending) == 0 {
			return
		}
		rest := w.pending[1:]
		switch w.pending[0] {
		case evEndOfGeneration:
			w.ends++
			w.pending = rest
			w.publish()
			continue
		case evExperimentalBatch:
			if len(rest) == 0 {
				return
			}
			rest = rest[1:]
		case evEventBatch:
		default:
			panic("generationWatcher: unexpected byte where a batch starts")
		}
		var header [4]uint64 // gen, m, time, size
		for i := range header {
			v, n := binary.Uvarint(rest)
			if n <= 0 {
				return
			}
			header[i] = v
			rest = rest[n:]
		}
		if uint64(len(rest)) < header[3] {
			return
		}
		w.pending = rest[header[3]:]
		if w.firstGen == 0 {
			w.firstGen = header[0]
		}
		w.last = max(w.last, header[0])
		w.publish()
	}
}

// publish updates the completed count. Before Go 1.26, a batch of generation N means that the
// generation before it is complete (generations are written out in order). Generation numbers go
// on across tracing sessions, so they count from the session's first.
func (w *generationWatcher) publish() {
	if w.marksEnds {
		w.completed.Store(w.ends)
	} else if w.firstGen > 0 {
		w.completed.Store(w.last - w.firstGen)
	}
}

func completedGenerations() uint64 {
	return watcher.Load().completed.Load()
}

// waitGenerations returns once n more generations of the current trace have been written out.
func waitGenerations(n uint64) {
	target := completedGenerations() + n
	for completedGenerations() < target {
		time.Sleep(100 * time.Microsecond)
	}
}

// nextGeneration waits for the next generation to be written out.
func nextGeneration() { waitGenerations(1) }

// repeatUntil runs round at least once, then again until minTime has passed and minGenerations
// more generations have been written out.
func repeatUntil(minTime time.Duration, minGenerations uint64, round func()) {
	deadline := time.Now().Add(minTime)
	target := completedGenerations() + minGenerations
	for {
		round()
		if !time.Now().Before(deadline) && completedGenerations() >= target {
			return
		}
	}
}
