// Sleepers: Go's side of the timer load in goro's `scale` report section
// (examples/support/scale.rs runs the same load for goro and tokio).
//
// N goroutines each loop time.Sleep(1 ms). After a warm-up (every
// goroutine has been sleeping for a while) the measured phase runs for
// -duration; a wake-up counts when the goroutine sees the measured phase
// after waking, and its lateness is the time it slept minus 1 ms.
//
//	go run benches/compare/go/sleepers.go -n 100000 -procs 2 -duration 3s
//
// Prints one line (fields: key=value, space-separated):
//
//	SLEEPERS contender=go n=100000 workers=2 seconds=3.000012 wakeups=4212345 mean_late_ns=412345
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const (
	warmup   int32 = 0
	measured int32 = 1
	stopped  int32 = 2
)

// result is one goroutine's count of measured wake-ups and their summed lateness.
type result struct {
	wakeups int64
	lateNs  int64
}

func main() {
	n := flag.Int("n", 1000, "sleeping goroutines")
	procs := flag.Int("procs", runtime.NumCPU(), "GOMAXPROCS")
	duration := flag.Duration("duration", 3*time.Second, "measured time")
	warm := flag.Duration("warmup", 500*time.Millisecond, "time before the measured phase")
	nap := flag.Duration("sleep", time.Millisecond, "each goroutine's sleep")
	flag.Parse()
	if *n < 1 || *procs < 1 || *duration <= 0 || *nap <= 0 {
		fmt.Fprintln(os.Stderr, "sleepers: -n, -procs, -duration and -sleep must be positive")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*procs)

	var phase int32 // warmup, measured, stopped
	results := make([]result, *n)
	var wg sync.WaitGroup
	wg.Add(*n)
	for i := 0; i < *n; i++ {
		go func(r *result) {
			defer wg.Done()
			for {
				t0 := time.Now()
				time.Sleep(*nap)
				late := time.Since(t0) - *nap
				switch atomic.LoadInt32(&phase) {
				case measured:
					r.wakeups++
					r.lateNs += int64(late)
				case stopped:
					return
				}
			}
		}(&results[i])
	}
	time.Sleep(*warm)
	start := time.Now()
	atomic.StoreInt32(&phase, measured)
	time.Sleep(*duration)
	elapsed := time.Since(start)
	atomic.StoreInt32(&phase, stopped)
	wg.Wait()

	var wakeups, lateNs int64
	for _, r := range results {
		wakeups += r.wakeups
		lateNs += r.lateNs
	}
	mean := int64(0)
	if wakeups > 0 {
		mean = lateNs / wakeups
	}
	fmt.Printf("SLEEPERS contender=go n=%d workers=%d seconds=%.6f wakeups=%d mean_late_ns=%d\n",
		*n, *procs, elapsed.Seconds(), wakeups, mean)
}
