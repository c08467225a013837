package backup

import (
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstdBlock is how much input each zstd frame holds. Frames are
// compressed independently, on every core; 4 MiB keeps the loss of
// history at frame boundaries small.
const zstdBlock = 4 << 20

// parallelZstd compresses a stream on several cores, as `zstd -T0` and
// pzstd do: the input is cut into zstdBlock pieces, each compressed into a
// zstd frame of its own by a pool of encoders, and the frames are written
// in order. Concatenated frames are one valid zstd stream: any decoder
// (klauspost's, the zstd command) reads them back as one.
//
// klauspost's streaming encoder uses at most two cores, which makes it
// slower than `tar | zstd` on small machines; this one scales with them.
// Write and Close must be called from one goroutine.
type parallelZstd struct {
	enc    *zstd.Encoder
	w      io.Writer
	buf    []byte
	work   chan *zstdJob
	order  chan *zstdJob
	wrote  chan struct{} // closed when the writer goroutine ends
	ins    sync.Pool     // input blocks, cap zstdBlock
	outs   sync.Pool     // compressed frames
	mu     sync.Mutex
	err    error
	any    bool // a frame was submitted
	closed bool // Close or abort ran
}

type zstdJob struct {
	in, out []byte
	done    chan struct{}
}

func newParallelZstd(w io.Writer, level zstd.EncoderLevel) (*parallelZstd, error) {
	n := runtime.GOMAXPROCS(0)
	// EncodeAll is safe for concurrent use; WithEncoderConcurrency(n) lets
	// n calls run at once.
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(level),
		zstd.WithEncoderConcurrency(n),
		zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true))
	if err != nil {
		return nil, err
	}
	z := &parallelZstd{
		enc:   enc,
		w:     w,
		work:  make(chan *zstdJob, n),
		order: make(chan *zstdJob, 2*n),
		wrote: make(chan struct{}),
	}
	// The pools hold *[]byte: a slice put in an interface allocates.
	z.ins.New = func() any { b := make([]byte, 0, zstdBlock); return &b }
	z.outs.New = func() any { return new([]byte) }
	z.buf = *z.ins.Get().(*[]byte)
	for range n {
		go func(work <-chan *zstdJob) {
			for j := range work {
				j.out = z.enc.EncodeAll(j.in, j.out[:0])
				close(j.done)
			}
		}(z.work)
	}
	go z.writer(z.order)
	return z, nil
}

// writer writes the frames in the order they were submitted.
func (z *parallelZstd) writer(order <-chan *zstdJob) {
	defer close(z.wrote)
	for j := range order {
		<-j.done
		if z.error() == nil {
			if _, err := z.w.Write(j.out); err != nil {
				z.setError(err)
			}
		}
		in, out := j.in[:0], j.out[:0]
		z.ins.Put(&in)
		z.outs.Put(&out)
	}
}

func (z *parallelZstd) error() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.err
}

func (z *parallelZstd) setError(err error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.err == nil {
		z.err = err
	}
}

func (z *parallelZstd) submit() {
	j := &zstdJob{in: z.buf, out: *z.outs.Get().(*[]byte), done: make(chan struct{})}
	z.any = true
	z.order <- j // blocks when enough frames are in flight
	z.work <- j
	z.buf = *z.ins.Get().(*[]byte)
}

func (z *parallelZstd) Write(p []byte) (int, error) {
	if err := z.error(); err != nil {
		return 0, err
	}
	if z.closed {
		return 0, io.ErrClosedPipe
	}
	n := len(p)
	for len(p) > 0 {
		k := copy(z.buf[len(z.buf):zstdBlock], p)
		z.buf = z.buf[:len(z.buf)+k]
		p = p[k:]
		if len(z.buf) == zstdBlock {
			z.submit()
		}
	}
	return n, nil
}

// Close compresses what is left, waits for every frame to be written, and
// stops the workers. An empty input still gives one (empty) frame.
func (z *parallelZstd) Close() error {
	if z.closed {
		return z.error()
	}
	if len(z.buf) > 0 || !z.any {
		z.submit()
	}
	z.stop()
	return z.error()
}

// stop lets the workers and the writer finish, and waits for the writer.
func (z *parallelZstd) stop() {
	z.closed = true
	close(z.order)
	close(z.work)
	<-z.wrote
}

// abort stops the workers without caring about the output.
func (z *parallelZstd) abort() {
	if z.closed {
		return
	}
	z.setError(io.ErrClosedPipe)
	z.stop()
}
