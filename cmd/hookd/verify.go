package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/validate"
)

func newVerifyCmd(c *cli) *cobra.Command {
	var scheme, headersFile, bodyFile, at string
	var secrets []string
	var tolerance time.Duration
	cmd := &cobra.Command{
		Use:   "verify --scheme S --secret S --headers FILE --body FILE",
		Short: "Check a captured webhook request offline; exit 0 when verified, 1 when rejected",
		Long: `Verify checks a captured request exactly as intake would: the headers file
holds "Name: value" lines as captured (a leading request line such as
"POST /in/shop HTTP/1.1" is skipped), the body file the raw body. The
signed timestamp is checked against --at (default now) within --tolerance;
use --at with the capture time to check an old capture.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{noConfig: "yes"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := signing.ParseScheme(scheme)
			if err != nil {
				return validate.Errorf("--scheme", "%q is not a scheme (allowed: %s)", scheme, schemeNames())
			}
			if len(secrets) == 0 {
				return validate.Errorf("--secret", "is required (repeat it to try several secrets)")
			}
			h, err := readHeaderFile(headersFile)
			if err != nil {
				return err
			}
			if bodyFile == "" {
				return validate.Errorf("--body", "is required: the file holding the raw request body")
			}
			body, err := os.ReadFile(bodyFile)
			if err != nil {
				return validate.Errorf("--body", "%v", err)
			}
			now, err := parseWhen("at", at, time.Now())
			if err != nil {
				return err
			}
			if now.IsZero() {
				now = time.Now()
			}
			res, err := signing.Verify(s, h, body, secrets, tolerance, now)
			var rejected *signing.VerifyError
			if errors.As(err, &rejected) {
				fmt.Fprintf(c.out, "rejected: %s\n", rejected.Reason)
				return &exitError{code: 1}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(c.out, "verified: %s signature matched secret %d of %d; event id %s", res.Scheme, res.SecretIndex+1, len(secrets), res.EventID)
			if !res.Timestamp.IsZero() {
				fmt.Fprintf(c.out, "; signed at %s", fmtTime(res.Timestamp))
			}
			fmt.Fprintln(c.out)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&scheme, "scheme", "", "signature scheme: "+schemeNames())
	fl.StringArrayVar(&secrets, "secret", nil, "secret to verify with (repeatable; any may match)")
	fl.StringVar(&headersFile, "headers", "", "file of captured headers, one \"Name: value\" per line")
	fl.StringVar(&bodyFile, "body", "", "file holding the raw request body")
	fl.DurationVar(&tolerance, "tolerance", signing.DefaultTolerance, "accepted distance of the signed timestamp from --at")
	fl.StringVar(&at, "at", "", "check the timestamp as of this time (RFC 3339, or a duration ago); default now")
	return cmd
}

// readHeaderFile parses "Name: value" lines; blank lines and a leading
// HTTP request line are skipped.
func readHeaderFile(path string) (http.Header, error) {
	if path == "" {
		return nil, validate.Errorf("--headers", "is required: a file of captured \"Name: value\" lines")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, validate.Errorf("--headers", "%v", err)
	}
	h := http.Header{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if n == 1 && strings.Contains(line, " HTTP/") {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(name, " \t") {
			return nil, validate.Errorf("--headers", "line %d is not \"Name: value\": %q", n, line)
		}
		h.Add(textproto.CanonicalMIMEHeaderKey(name), strings.TrimSpace(value))
	}
	if err := sc.Err(); err != nil {
		return nil, validate.Errorf("--headers", "%v", err)
	}
	return h, nil
}
