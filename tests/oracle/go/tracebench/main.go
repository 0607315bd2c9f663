// Command tracebench measures Go's own trace parser (golang.org/x/exp/trace) on one file, for
// gotrace's side-by-side benchmark: it parses FILE REPEAT times, streaming from the file, and
// prints one line: bytes, events, wall-clock seconds, CPU seconds (user + sys of the process,
// garbage collector included), and the process's peak resident memory in KiB.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/exp/trace"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: tracebench FILE REPEAT")
		os.Exit(2)
	}
	repeat, err := strconv.Atoi(os.Args[2])
	if err != nil || repeat < 1 {
		fmt.Fprintln(os.Stderr, "REPEAT must be a positive number")
		os.Exit(2)
	}
	var bytes, events int64
	start := time.Now()
	for i := 0; i < repeat; i++ {
		n, size, err := parse(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		events += n
		bytes += size
	}
	elapsed := time.Since(start).Seconds()
	fmt.Printf("bytes=%d events=%d seconds=%.6f cpu_seconds=%.6f peak_rss_kib=%d\n", bytes, events, elapsed, cpuSeconds(), peakRSS())
}

func parse(path string) (int64, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	r, err := trace.NewReader(bufio.NewReader(f))
	if err != nil {
		return 0, 0, err
	}
	var n int64
	for {
		_, err := r.ReadEvent()
		if err == io.EOF {
			return n, info.Size(), nil
		}
		if err != nil {
			return n, info.Size(), err
		}
		n++
	}
}

// cpuSeconds is the user + sys CPU time of the process so far.
func cpuSeconds() float64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return -1
	}
	seconds := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return seconds(usage.Utime) + seconds(usage.Stime)
}

// peakRSS reads the high-water mark of resident memory (VmHWM) from /proc, in KiB.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			fields := strings.Fields(line)
			if len(fields) >= 2 {
				kib, _ := strconv.ParseInt(fields[1], 10, 64)
				return kib
			}
		}
	}
	return -1
}
