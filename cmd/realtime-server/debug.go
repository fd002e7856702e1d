package main

import (
	"encoding/json"
	"net/http"
	"runtime"
)

// memReport is the answer of GET /debug/mem. The peer servers of
// bench/peers answer the same shape, so that realtime-bench compares like
// with like.
type memReport struct {
	HeapInuse  uint64 `json:"heapInuse"`
	StackInuse uint64 `json:"stackInuse"`
	Goroutines int    `json:"goroutines"`
}

// serveMem collects garbage, then reports the heap and stacks in use and
// the number of goroutines.
func serveMem(w http.ResponseWriter, _ *http.Request) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(memReport{HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, Goroutines: runtime.NumGoroutine()})
}
