// spawn: Go's side of goro's cold spawn load (examples/scale_spawn.rs, mode
// spawn). In a fresh process, spawns N goroutines that each store one
// result, then waits for all of them; then does it again (warm: the
// runtime has goroutines and stacks to reuse). Prints one line:
//
//	spawn runtime=go n=N procs=P total_s=S ns_per_task=T warm_ns_per_task=W
//
// Go has no join handle; a WaitGroup plus a result slot per goroutine is
// what a Go program writes for "spawn N and collect".
//
//	GOMAXPROCS=2 go run benches/compare/go/spawn.go 200000
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// round spawns n goroutines, waits for all, checks their results and
// returns the time taken.
func round(n int) time.Duration {
	results := make([]int, n)
	var wg sync.WaitGroup
	wg.Add(n)
	start := time.Now()
	for i := 0; i < n; i++ {
		go func(i int) {
			results[i] = i
			wg.Done()
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	sum := 0
	for _, r := range results {
		sum += r
	}
	if sum != n*(n-1)/2 {
		fmt.Fprintf(os.Stderr, "spawn: results sum to %d, want %d\n", sum, n*(n-1)/2)
		os.Exit(1)
	}
	return elapsed
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run spawn.go N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "spawn: N must be a positive number, got %q\n", os.Args[1])
		os.Exit(2)
	}
	cold := round(n)
	warm := round(n)
	fmt.Printf("spawn runtime=go n=%d procs=%d total_s=%.4f ns_per_task=%.1f warm_ns_per_task=%.1f\n",
		n, runtime.GOMAXPROCS(0), cold.Seconds(), float64(cold.Nanoseconds())/float64(n),
		float64(warm.Nanoseconds())/float64(n))
}
