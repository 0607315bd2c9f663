package main

/*
#include <pthread.h>

extern void goCallback(void);

// Each call runs the callback from a brand-new C thread that exits afterwards: the runtime lends
// the thread an extra M on entry (GoCreateSyscall) and takes it back when the thread dies
// (GoDestroySyscall), and the goroutine IDs of those callbacks are reused.
static void *callFromThread(void *arg) {
	goCallback();
	return 0;
}

static void callbackFromNewThread(void) {
	pthread_t th;
	pthread_create(&th, 0, callFromThread, 0);
	pthread_join(th, 0);
}
*/
import "C"

import (
	"runtime"
	"sync"
	"time"
)

//export goCallback
func goCallback() {
	buf := make([]byte, 4096)
	buf[0] = 1
	runtime.Gosched()
}

// cgoCallbacksFromExitingThreads: callbacks into Go from short-lived C threads (seed 000), spread
// over several generations.
func cgoCallbacksFromExitingThreads() {
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if i%5 == 0 {
					nextGeneration()
				}
				C.callbackFromNewThread()
				time.Sleep(100 * time.Microsecond)
			}
		}()
	}
	wg.Wait()
}
