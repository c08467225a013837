// Package loadtest is an HTTP load generator: the engine of `tarsctl
// loadtest`, usable from any Go program or benchmark.
//
// It follows vegeta's separation of concerns. A [Targeter] says what each
// request is; a [Pacer] says when it is due (open-loop mode); an
// [Attacker] sends the requests and hands each [Result] to a [Recorder];
// [Metrics] aggregates results into HDR histograms; [NewReport] turns the
// metrics into a [Report], which a [Reporter] writes as JSON, Markdown or
// text. [Compare] and [Threshold] turn reports into verdicts.
//
// # Open and closed loops
//
// In closed-loop mode (the default) each worker is a user: it sends a
// request, waits for the response, optionally thinks ([ThinkTime]), and
// sends the next. Users can be started gradually ([SpawnRate]). This is
// locust's model; the server's speed sets the rate.
//
// In open-loop mode ([Rate] or [WithPacer]) requests are due on a fixed
// schedule whatever happens to earlier ones, as with wrk2 and vegeta.
// Each request's latency is measured from the time it was due, not from
// when it was actually sent: if the server stalls and every connection is
// busy, the requests that should have gone out meanwhile count the stall
// too. Measuring from the actual send instead is "coordinated omission":
// it hides stalls behind the few requests that were stuck in them. The
// time from the actual send is kept as well, as the service time; the
// difference is the send lag, which the report shows.
//
// # Accuracy
//
// Go's timers can wake a goroutine up to a millisecond late when the
// process is idle, so the final stretch of each wait uses a precise sleep
// (nanosleep on Linux). Latencies are recorded in microseconds with three
// significant digits, up to an hour.
//
// # Efficiency
//
// The built-in client speaks HTTP/1.1 over one keep-alive connection per
// worker and endpoint. Each target is serialised once; a request is one
// write of those bytes and a response is parsed just enough to find its
// end, so sending a request allocates nothing. Workers record results into
// their own batches and hand them to the recorder a batch at a time, so
// there is no shared lock per request, and [Metrics] uses fixed-size
// histograms, so memory does not grow with the length of a run.
// [HTTPClient] switches to net/http (HTTP/2, proxies) at a higher cost per
// request.
//
// # The generator as the bottleneck
//
// A load generator that cannot keep up reports the generator, not the
// server. [Stats] records what the attack asked for and achieved, and the
// CPU it used; [NewReport] turns shortfalls, late sends and CPU
// saturation into warnings.
//
// # Bounds and cancellation
//
// Every attack is bounded by a [Duration], a [MaxRequests] count, or both;
// [Attacker.Attack] refuses an unbounded one with [ErrUnbounded].
// Cancelling its context stops the attack at once: requests in flight are
// aborted and not recorded, and what was recorded remains a valid report.
package loadtest
