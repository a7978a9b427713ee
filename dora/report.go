package dora

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"
)

// WriteTo writes m as a small text table, one line per metric with its
// value and what it rests on, under a heading naming the window. Metrics
// without data (no deployment with a commit time, no restore) read "n/a".
// It implements io.WriterTo.
func (m Metrics) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	fmt.Fprintf(cw, "DORA metrics, %s to %s (%s days)\n",
		m.Window.From.Format("2006-01-02 15:04 MST"), m.Window.To.Format("2006-01-02 15:04 MST"),
		strconv.FormatFloat(math.Round(m.Window.Days()*100)/100, 'f', -1, 64))
	tw := tabwriter.NewWriter(cw, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "metric\tvalue\tbasis\n")
	fmt.Fprintf(tw, "deployment frequency\t%.2f/day\t%s\n", m.PerDay, plural(m.Deployments, "deployment"))
	lead := "n/a"
	if m.LeadTimes > 0 {
		lead = roundDuration(m.LeadTime)
	}
	fmt.Fprintf(tw, "lead time for changes\t%s\tmedian of %s with a commit time\n", lead, plural(m.LeadTimes, "deployment"))
	rate := "n/a"
	if m.Changes > 0 {
		rate = fmt.Sprintf("%.1f%%", 100*m.FailureRate)
	}
	fmt.Fprintf(tw, "change failure rate\t%s\t%d of %s failed\n", rate, m.Failures, plural(m.Changes, "change"))
	restore := "n/a"
	if m.Restores > 0 {
		restore = roundDuration(m.TimeToRestore)
	}
	fmt.Fprintf(tw, "time to restore\t%s\tmedian of %s\n", restore, plural(m.Restores, "restore"))
	if err := tw.Flush(); err != nil {
		return cw.n, err
	}
	return cw.n, cw.err
}

// roundDuration renders d to the second (to the millisecond under one).
func roundDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// countingWriter counts bytes and keeps the first error, so that the
// Fprintf calls above need no checks of their own.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}
