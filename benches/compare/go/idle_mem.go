// idle_mem: Go's side of goro's "a million parked goroutines" load
// (examples/scale_spawn.rs, mode idle-mem). N goroutines block receiving
// on one channel; once all have announced themselves, the channel is
// closed and every goroutine returns. Prints one line:
//
//	idle_mem runtime=go n=N procs=P park_s=S release_s=S total_s=S us_per_g=U rss_bytes_per_g=B
//
// park_s runs from the first spawn until every goroutine announced itself
// (the last few may still be on their way into the receive), release_s from
// the close until every goroutine returned; rss_bytes_per_g is the growth
// of resident memory (/proc/self/statm) while all are parked, divided by N.
//
//	go run benches/compare/go/idle_mem.go 1000000
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

func rssBytes() int64 {
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		panic(err)
	}
	pages, err := strconv.ParseInt(strings.Fields(string(statm))[1], 10, 64)
	if err != nil {
		panic(err)
	}
	return pages * int64(os.Getpagesize())
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run idle_mem.go N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "idle_mem: N must be a positive number, got %q\n", os.Args[1])
		os.Exit(2)
	}
	release := make(chan struct{})
	var parked, done sync.WaitGroup
	parked.Add(n)
	done.Add(n)
	before := rssBytes()
	start := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			parked.Done()
			<-release
			done.Done()
		}()
	}
	parked.Wait()
	parkedAt := time.Now()
	rss := rssBytes() - before
	close(release)
	done.Wait()
	end := time.Now()
	fmt.Printf("idle_mem runtime=go n=%d procs=%d park_s=%.4f release_s=%.4f total_s=%.4f us_per_g=%.3f rss_bytes_per_g=%d\n",
		n, runtime.GOMAXPROCS(0), parkedAt.Sub(start).Seconds(), end.Sub(parkedAt).Seconds(),
		end.Sub(start).Seconds(), float64(end.Sub(start).Microseconds())/float64(n), rss/int64(n))
}
