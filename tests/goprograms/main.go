// Command goprograms runs one of gotrace's real-program scenarios under runtime/trace and writes
// the trace to a file. The workspace test tests/tests/real_programs.rs builds it, runs every
// scenario, and compares gotrace's reading of each trace with Go's own; the benchmark traces the
// busy scenario for many seconds.
//
// Usage: goprograms SCENARIO OUT.trace
//
// Run it with GODEBUG=traceadvanceperiod=2000000 (nanoseconds) for a new generation every few
// milliseconds; GOTRACE_BUSY_SECONDS sets how long the busy scenario runs. The cgo-callbacks
// scenario needs cgo (CGO_ENABLED=1 and a C compiler).
package main

import (
	"fmt"
	"os"
	"runtime/trace"
	"sort"
)

// scenario runs a workload; tracing is already on unless the scenario manages it itself.
type scenario struct {
	run         func(out *os.File) error
	managesSelf bool
}

var scenarios = map[string]scenario{
	"channels-mutexes": {run: traced(channelsAndMutexes)},
	"syscall-pipes":    {run: traced(syscallsOnPipes)},
	"cgo-callbacks":    {run: traced(cgoCallbacksFromExitingThreads)},
	"gc-pressure":      {run: traced(func() { gcUnderAllocationPressure(nextGeneration) })},
	"annotations":      {run: traced(func() { userAnnotations(nextGeneration) })},
	"gomaxprocs":       {run: traced(changingGOMAXPROCS)},
	"start-stop":       {run: stopAndStartAgain, managesSelf: true},
	"busy":             {run: traced(busyService)},
}

func traced(workload func()) func(out *os.File) error {
	return func(out *os.File) error {
		if err := trace.Start(newGenerationWatcher(out)); err != nil {
			return err
		}
		workload()
		trace.Stop()
		return nil
	}
}

func main() {
	if len(os.Args) != 3 {
		names := make([]string, 0, len(scenarios))
		for name := range scenarios {
			names = append(names, name)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: goprograms SCENARIO OUT.trace\nscenarios: %v\n", names)
		os.Exit(2)
	}
	s, ok := scenarios[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown scenario %q\n", os.Args[1])
		os.Exit(2)
	}
	out, err := os.Create(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := s.run(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := out.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
