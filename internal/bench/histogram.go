package bench

import (
	"math/bits"
	"time"
)

// The histogram's buckets are log-linear: values below 2·subBuckets ns are
// exact, and every power of two above is split into subBuckets equal
// buckets, so a bucket is at most 1/128 of its value wide and a percentile
// read at the bucket's middle is within 0.4%. It covers every int64.
const (
	subBits    = 7
	subBuckets = 1 << subBits
	nBuckets   = (64-subBits)*subBuckets + subBuckets
)

// histogram counts latencies. The zero value is empty. It is not safe for
// concurrent use: each client keeps its own, merged after the run.
type histogram struct {
	counts [nBuckets]int64
	n      int64
	max    time.Duration
}

func bucketOf(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return shift*subBuckets + int(v>>shift)
}

// bucketRange returns the smallest value of bucket i and its width.
func bucketRange(i int) (lo, width uint64) {
	if i < 2*subBuckets {
		return uint64(i), 1
	}
	shift := i/subBuckets - 1
	m := uint64(i - shift*subBuckets)
	return m << shift, 1 << shift
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

func (h *histogram) count() int64 { return h.n }

// quantile returns the value at quantile q (0 < q ≤ 1): the middle of the
// bucket holding the ⌈q·n⌉-th smallest value, never above the maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n) + 0.999999)
	rank = min(max(rank, 1), h.n)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, w := bucketRange(i)
			return min(time.Duration(lo+w/2), h.max)
		}
	}
	return h.max
}
