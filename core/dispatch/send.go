package dispatch

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/jsonw"
	"github.com/hookd/hookd/core/netguard"
	"github.com/hookd/hookd/core/signing"
)

// ClassSigning marks an attempt that could not be signed (an endpoint
// secret in the database that is not a valid whsec_ secret); no request
// was sent.
const ClassSigning = "signing"

// drainLimit is how much of an unread response body is discarded so the
// connection can be reused; larger bodies close the connection instead.
const drainLimit = 64 << 10

// newClient returns the one keep-alive client every attempt to a webhook
// endpoint goes through: dialling through the address guard, never through
// a proxy, never following redirects, with per-host connections bounded by
// the workers.
func newClient(cfg config.Delivery) *http.Client {
	guard := netguard.New(cfg.AllowedNetworks)
	return newClientDialing(cfg, guard.Dialer(net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}))
}

// newTrustedClient is newClient without the address guard, for the
// operator's own targets from the configuration file (intake forward_to,
// alerts.url), which are internal by design.
func newTrustedClient(cfg config.Delivery) *http.Client {
	return newClientDialing(cfg, &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second})
}

func newClientDialing(cfg config.Delivery, dialer *net.Dialer) *http.Client {
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would hide the real address from the guard
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2 * cfg.Workers,
		MaxIdleConnsPerHost:   cfg.Workers,
		MaxConnsPerHost:       cfg.Workers,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// run performs one claimed job and hands its outcome to the engine. A
// job cut short by Stop is handed back for release instead, and one whose
// turn came too late for its lease is handed back for release at once
// (see turn.go).
// paced is its endpoint's pace (nil without a rate_limit), held for it;
// leased is the clock before the claim: the job's lease counts from there.
func (d *Dispatcher) run(job delivery.Job, paced *pace, leased, returned time.Time) {
	ctx := d.workCtx
	switch d.waitTurn(ctx, job, paced, leased, returned) {
	case turnStopped:
		d.outcomes <- outcome{released: true, claim: job.Leased()}
		return
	case turnTooLate:
		d.outcomes <- outcome{handedBack: true, claim: job.Leased()}
		return
	}
	res, ok := d.attempt(ctx, job, leased)
	res.ClaimedAt = returned
	d.outcomes <- outcome{res: res, released: !ok, claim: job.Leased(), awaited: job.Awaited}
}

// attempt sends job once and decides what follows. It reports false when
// ctx (the dispatcher's work context) was cancelled before a response.
func (d *Dispatcher) attempt(ctx context.Context, job delivery.Job, leased time.Time) (delivery.Result, bool) {
	now := d.opts.Now()
	res := delivery.ResultOf(job, d.opts.Worker)
	res.StartedAt = now
	body := requestBody(job)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "hookd/"+d.opts.Version)
	for k, v := range job.Headers {
		h.Set(k, v)
	}
	if err := signing.SignWith(h, job.EventID, now, body, signing.Keys{
		Secrets: job.Secrets(now), SigningKey: job.SigningKey, Versions: job.Signatures}); err != nil {
		res.RequestHeaders = endpoint.RedactRequestHeaders(h) // custom headers are credentials
		res.ErrorClass, res.Error = ClassSigning, "cannot sign the request: "+err.Error()
		d.finish(&res, 0, now, 0, job)
		return res, true
	}
	res.RequestHeaders = endpoint.RedactRequestHeaders(h) // custom headers are credentials

	timeout := cmp.Or(job.Timeout, d.opts.Delivery.Timeout)
	// Stay inside the lease so no other worker retries while this one waits.
	deadline := time.Now().Add(timeout)
	if leaseEnd := leased.Add(d.leaseBudget(job)); leaseEnd.Before(deadline) {
		deadline = leaseEnd
	}
	reqCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	start := time.Now()
	client := d.client
	if job.Trusted {
		client = d.trusted
	}
	status, retryAfter, sent, err := d.send(reqCtx, client, job.URL, h, body, &res)
	res.Duration = time.Since(start)
	end := d.opts.Now()
	if err != nil && ctx.Err() != nil {
		if !sent {
			return res, false // Stop cut it short before it was sent: released, not counted
		}
		// Sent, then cut short by Stop: the endpoint may have it, so the
		// attempt is logged and counted, and due again at once, as a
		// reaped lease is.
		res.ErrorClass = delivery.ClassInterrupted
		res.Error = "cut short by shutdown after the request was sent; the endpoint may have received it"
		d.finish(&res, 0, end, -1, job)
		if res.Next == delivery.StateRetrying {
			res.NextAttemptAt = end
		}
		return res, true
	}
	if err != nil {
		res.ErrorClass, res.Error = classify(err, timeout, sent)
	}
	d.finish(&res, status, end, retryAfter, job)
	return res, true
}

// send posts body and fills the response fields of res. It returns the
// status (0 without a response), the Retry-After delay (-1 when absent)
// and whether the request was written whole.
func (d *Dispatcher) send(ctx context.Context, client *http.Client, target string, h http.Header, body []byte,
	res *delivery.Result) (status int, retryAfter time.Duration, sent bool, err error) {
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		if info.Err == nil {
			wrote.Store(true)
		}
	}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, -1, false, err
	}
	req.Header = h
	resp, err := client.Do(req)
	if err != nil {
		return 0, -1, wrote.Load(), err
	}
	defer resp.Body.Close()
	res.ResponseStatus = resp.StatusCode
	res.ResponseHeaders = resp.Header
	res.ResponseBody = readBody(resp.Body, d.opts.Delivery.MaxResponseBodyBytes)
	retryAfter = -1
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			retryAfter = ra
		}
	}
	return resp.StatusCode, retryAfter, true, nil
}

// readBody reads up to limit bytes, noting a truncation, and drains a
// little more so the connection can be kept alive.
func readBody(r io.Reader, limit int64) string {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	s := ""
	if int64(len(b)) > limit {
		s = string(b[:limit]) + fmt.Sprintf("\n[hookd: response body truncated at %d bytes (delivery.max_response_body_bytes)]", limit)
	} else {
		s = string(b)
	}
	if err != nil {
		s += "\n[hookd: reading the response body failed: " + err.Error() + "]"
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r, drainLimit))
	return s
}

// requestBody is {"id","type","created","data"} with data verbatim, or
// the data alone for an endpoint whose body_format is "data".
func requestBody(job delivery.Job) []byte {
	if job.BodyData {
		return job.EventData
	}
	b := make([]byte, 0, len(job.EventData)+len(job.EventID)+len(job.EventType)+64)
	b = append(b, `{"id":`...)
	b = jsonw.String(b, job.EventID)
	b = append(b, `,"type":`...)
	b = jsonw.String(b, job.EventType)
	b = append(b, `,"created":"`...)
	b = job.EventCreated.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":`...)
	if len(job.EventData) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, job.EventData...)
	}
	return append(b, '}')
}

// classify names the error class of a failed request and a message for
// people; the URL is recorded separately, so it is left out.
func classify(err error, timeout time.Duration, sent bool) (class, msg string) {
	var blocked *netguard.BlockedError
	if errors.As(err, &blocked) {
		return delivery.ClassBlocked, blocked.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) {
		// The request's own deadline: Go's words for it add nothing.
		return delivery.ClassTimeout, fmt.Sprintf("no response within %s", timeout)
	}
	if errors.As(err, &ne) && ne.Timeout() {
		return delivery.ClassTimeout, fmt.Sprintf("no response within %s (%v)", timeout, err)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return delivery.ClassDNS, "DNS lookup failed: " + dnsErr.Error()
	}
	if isTLS(err) {
		return delivery.ClassTLS, "TLS failed: " + err.Error()
	}
	if sent {
		return delivery.ClassNoResponse, "the request was sent, then the connection ended without a response: " + err.Error()
	}
	return delivery.ClassConnect, "connection failed: " + err.Error()
}

func isTLS(err error) bool {
	var (
		rh    tls.RecordHeaderError
		alert tls.AlertError
		cv    *tls.CertificateVerificationError
		ua    x509.UnknownAuthorityError
		hn    x509.HostnameError
		ci    x509.CertificateInvalidError
	)
	return errors.As(err, &rh) || errors.As(err, &alert) || errors.As(err, &cv) || errors.As(err, &ua) ||
		errors.As(err, &hn) || errors.As(err, &ci) || strings.Contains(err.Error(), "tls: ")
}

// logAttempt logs one attempt at debug level.
func (d *Dispatcher) logAttempt(res *delivery.Result) {
	if !d.logger.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	d.logger.Debug("attempt", slog.Int64("delivery", res.DeliveryID), slog.String("endpoint", res.EndpointID),
		slog.String("event", res.EventID), slog.Int("attempt", res.Attempt), slog.Int("status", res.ResponseStatus),
		slog.String("class", res.ErrorClass), slog.String("next", string(res.Next)),
		slog.Duration("duration", res.Duration))
}
