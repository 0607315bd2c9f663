package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/trace"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The workloads are small on purpose: the tests run every scenario on each `cargo test` and compare
// every event with Go's parser. Where they must span several trace generations (the tests run them
// with a short GODEBUG=traceadvanceperiod), they wait for the generations to be written out
// (waitGenerations, repeatUntil) rather than for a time, so a slow machine gives fewer events,
// never fewer generations.

// channelsAndMutexes: producers, consumers and a contended lock; goroutines block and unblock on
// channels, mutexes, a WaitGroup and timers.
func channelsAndMutexes() {
	repeatUntil(0, 3, func() {
		channelRound(300)
		time.Sleep(2 * time.Millisecond)
	})
}

func channelRound(items int) {
	var (
		mu    sync.Mutex
		total int
		wg    sync.WaitGroup
	)
	work := make(chan int, 8)
	results := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				mu.Lock()
				total += n
				if n%50 == 0 {
					// Holding the lock while asleep makes the other workers block on it.
					time.Sleep(20 * time.Microsecond)
				}
				mu.Unlock()
				if n%7 == 0 {
					time.Sleep(50 * time.Microsecond)
				}
				results <- n * n
			}
		}()
	}
	go func() {
		for i := 0; i < items; i++ {
			work <- i
		}
		close(work)
	}()
	go func() { wg.Wait(); close(results) }()
	sum := 0
	for r := range results {
		sum += r
	}
	_ = sum
}

// pipeReaders starts goroutines that sit in blocking read(2) calls on pipes; writing one byte to
// a returned fd wakes its reader. Each reader reads `reads` bytes, one blocking call each.
func pipeReaders(n, reads int, wg *sync.WaitGroup) []int {
	writers := make([]int, 0, n)
	for i := 0; i < n; i++ {
		var fds [2]int
		if err := syscall.Pipe(fds[:]); err != nil {
			panic(err)
		}
		writers = append(writers, fds[1])
		wg.Add(1)
		go func(fd int) {
			defer wg.Done()
			defer syscall.Close(fd)
			var b [1]byte
			for r := 0; r < reads; r++ {
				if _, err := syscall.Read(fd, b[:]); err != nil {
					panic(err)
				}
			}
		}(fds[0])
	}
	return writers
}

func wake(fds []int) {
	for _, fd := range fds {
		if _, err := syscall.Write(fd, []byte{1}); err != nil {
			panic(err)
		}
	}
}

// syscallsOnPipes: goroutines sit in blocking read(2) calls on pipes for several trace generations
// (seed 002: a goroutine in a syscall is re-stated at each generation boundary with its M), and
// longer than sysmon lets a P sit in a syscall (10ms), so their Ps are taken away (ProcSteal);
// then they are woken, twice.
func syscallsOnPipes() {
	var wg sync.WaitGroup
	writers := pipeReaders(4, 2, &wg)
	for round := 0; round < 2; round++ {
		repeatUntil(15*time.Millisecond, 3, func() {
			runtime.Gosched()
			time.Sleep(time.Millisecond)
		})
		wake(writers)
	}
	wg.Wait()
	for _, fd := range writers {
		syscall.Close(fd)
	}
}

// gcUnderAllocationPressure: goroutines allocating and dropping memory so that several GC cycles
// run, with mark assists, sweeping and heap metrics. They pause now and then (the scenario: until
// a new generation, so that the cycles spread over several generations), and does not call runtime.GC: that waits for the sweep by
// yielding in a loop, thousands of events that test nothing more.
func gcUnderAllocationPressure(pause func()) {
	var wg sync.WaitGroup
	sink := make([][]byte, 64)
	var mu sync.Mutex
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				if i%500 == 0 {
					pause()
				}
				b := make([]byte, 2048+(i%16)*256)
				if i%50 == 0 {
					mu.Lock()
					sink[(g*31+i)%len(sink)] = b
					mu.Unlock()
				}
			}
		}(g)
	}
	wg.Wait()
}

// userAnnotations: nested tasks, regions and logs across goroutines. The inner regions last for a
// pause (the scenario: until a new generation, so that regions and tasks end in a later
// generation than they began).
func userAnnotations(pause func()) {
	ctx, root := trace.NewTask(context.Background(), "request")
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cctx, task := trace.NewTask(ctx, "step"+strconv.Itoa(i))
			defer task.End()
			trace.Log(cctx, "index", strconv.Itoa(i))
			trace.WithRegion(cctx, "compute", func() {
				trace.WithRegion(cctx, "inner", pause)
				trace.Logf(cctx, "phase", "done %d", i)
			})
		}(i)
	}
	wg.Wait()
	trace.Log(ctx, "", "unkeyed log")
	root.End()
}

// changingGOMAXPROCS: GOMAXPROCS up and down while goroutines run, each setting lasting across a
// generation boundary.
func changingGOMAXPROCS() {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	spinners(4, 20*time.Microsecond, 100*time.Microsecond, stop, &wg)
	orig := runtime.GOMAXPROCS(0)
	for _, n := range []int{1, 2, 4, 8, 3, 1, orig} {
		runtime.GOMAXPROCS(n)
		time.Sleep(time.Millisecond)
		nextGeneration()
	}
	close(stop)
	wg.Wait()
}

// spinners starts n goroutines that alternate CPU work and sleep until stop is closed.
func spinners(n int, work, pause time.Duration, stop <-chan struct{}, wg *sync.WaitGroup) {
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					for start := time.Now(); time.Since(start) < work; {
					}
					time.Sleep(pause)
				}
			}
		}()
	}
}

// stopAndStartAgain: tracing is stopped and started again three times while goroutines live on
// across the sessions: some blocked in read(2) on pipes, some waiting on a channel, some running.
// The file keeps the last session, which must re-state all of them as found, and whose
// generations do not start at 1.
func stopAndStartAgain(out *os.File) error {
	var readers sync.WaitGroup
	writers := pipeReaders(2, 1, &readers)
	release := make(chan struct{})
	stop := make(chan struct{})
	var others sync.WaitGroup
	for i := 0; i < 4; i++ {
		others.Add(1)
		go func() { defer others.Done(); <-release }()
	}
	spinners(4, 10*time.Microsecond, 200*time.Microsecond, stop, &others)
	for round := 0; round < 3; round++ {
		if _, err := out.Seek(0, 0); err != nil {
			return err
		}
		if err := out.Truncate(0); err != nil {
			return err
		}
		if err := trace.Start(newGenerationWatcher(out)); err != nil {
			return err
		}
		channelRound(300)
		waitGenerations(2)
		if round == 2 {
			wake(writers)
			readers.Wait()
			close(release)
			close(stop)
			others.Wait()
		}
		trace.Stop()
	}
	for _, fd := range writers {
		syscall.Close(fd)
	}
	return nil
}

// busyService: a long, busy mix of the workloads above, for large traces (benchmarks). Its length
// is set by GOTRACE_BUSY_SECONDS (default 1).
func busyService() {
	seconds := 1.0
	if s := os.Getenv("GOTRACE_BUSY_SECONDS"); s != "" {
		if _, err := fmt.Sscan(s, &seconds); err != nil {
			panic(fmt.Sprintf("GOTRACE_BUSY_SECONDS=%q: %v", s, err))
		}
	}
	repeatUntil(time.Duration(seconds*float64(time.Second)), 2, func() {
		var wg sync.WaitGroup
		wg.Add(4)
		go func() { defer wg.Done(); channelRound(2000) }()
		go func() { defer wg.Done(); gcUnderAllocationPressure(briefly) }()
		go func() { defer wg.Done(); userAnnotations(briefly) }()
		go func() { defer wg.Done(); syscallsOnPipesBriefly() }()
		wg.Wait()
	})
}

// briefly is busyService's pause: it keeps the trace dense.
func briefly() { time.Sleep(100 * time.Microsecond) }

// syscallsOnPipesBriefly: pipe readers woken after a few milliseconds (busyService's share of
// syscalls).
func syscallsOnPipesBriefly() {
	var wg sync.WaitGroup
	writers := pipeReaders(2, 1, &wg)
	time.Sleep(3 * time.Millisecond)
	wake(writers)
	wg.Wait()
	for _, fd := range writers {
		syscall.Close(fd)
	}
}
