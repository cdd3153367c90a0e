package strata

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is a recurring deploy window such as "Mon-Fri 09:00-17:00 America/New_York": days of
// the week, a time range, and the time zone both are read in. An End before Start runs past
// midnight into the next day.
type Window struct {
	Spec  string
	Days  [7]bool // indexed by time.Weekday
	Start int     // minutes after midnight
	End   int     // minutes after midnight; 24*60 for "24:00"
	Loc   *time.Location
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseWindow reads "DAYS HH:MM-HH:MM ZONE". DAYS is a day ("Mon"), a range ("Mon-Fri", which
// may wrap: "Fri-Mon"), a comma list of either, or "*" for every day; ZONE is an IANA zone name
// ("Europe/Berlin") or "UTC". The error says what a good window looks like.
func ParseWindow(spec string) (Window, error) {
	const want = `want "DAYS HH:MM-HH:MM ZONE", e.g. "Mon-Fri 09:00-17:00 Europe/Berlin"`
	w := Window{Spec: spec}
	fields := strings.Fields(spec)
	if len(fields) != 3 {
		return w, fmt.Errorf("deploy window %q has %d parts; %s", spec, len(fields), want)
	}
	if err := w.parseDays(fields[0]); err != nil {
		return w, fmt.Errorf("deploy window %q: %w; %s", spec, err, want)
	}
	from, to, ok := strings.Cut(fields[1], "-")
	if !ok {
		return w, fmt.Errorf("deploy window %q: time range %q has no '-'; %s", spec, fields[1], want)
	}
	var err error
	if w.Start, err = parseClock(from); err != nil {
		return w, fmt.Errorf("deploy window %q: %w; %s", spec, err, want)
	}
	if w.End, err = parseClock(to); err != nil {
		return w, fmt.Errorf("deploy window %q: %w; %s", spec, err, want)
	}
	if w.Start == w.End {
		return w, fmt.Errorf("deploy window %q starts and ends at the same time; %s", spec, want)
	}
	if w.Start == 24*60 {
		return w, fmt.Errorf("deploy window %q cannot start at 24:00; %s", spec, want)
	}
	loc, err := time.LoadLocation(fields[2])
	if err != nil || fields[2] == "" || fields[2] == "Local" {
		return w, fmt.Errorf("deploy window %q: unknown time zone %q; use an IANA name such as Europe/Berlin or UTC", spec, fields[2])
	}
	w.Loc = loc
	return w, nil
}

func (w *Window) parseDays(s string) error {
	if s == "*" {
		for i := range w.Days {
			w.Days[i] = true
		}
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, ok := weekdays[strings.ToLower(a)]
		if !ok {
			return fmt.Errorf("unknown day %q (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)", a)
		}
		to := from
		if isRange {
			if to, ok = weekdays[strings.ToLower(b)]; !ok {
				return fmt.Errorf("unknown day %q (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)", b)
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			w.Days[d] = true
			if d == to {
				break
			}
		}
	}
	return nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("bad time %q (want HH:MM between 00:00 and 24:00)", s)
	}
	return hh*60 + mm, nil
}

// Contains reports whether t falls inside the window.
func (w Window) Contains(t time.Time) bool {
	if w.Loc == nil {
		return false
	}
	lt := t.In(w.Loc)
	min := lt.Hour()*60 + lt.Minute()
	if w.Start < w.End {
		return w.Days[lt.Weekday()] && min >= w.Start && min < w.End
	}
	// Overnight: the part after Start belongs to today, the part before End to yesterday.
	if min >= w.Start {
		return w.Days[lt.Weekday()]
	}
	return min < w.End && w.Days[(lt.Weekday()+6)%7]
}

// NextOpen returns the first minute at or after t when the window is open, searching a week
// ahead; the zero time when it never opens.
func (w Window) NextOpen(t time.Time) time.Time {
	if w.Contains(t) {
		return t
	}
	c := t.Truncate(time.Minute).Add(time.Minute)
	for end := t.Add(8 * 24 * time.Hour); c.Before(end); c = c.Add(time.Minute) {
		if w.Contains(c) {
			return c
		}
	}
	return time.Time{}
}

// MarshalText writes the window as it was written.
func (w Window) MarshalText() ([]byte, error) { return []byte(w.Spec), nil }

// UnmarshalText reads a window as ParseWindow does, so that a document holding windows (a
// server's `env list`) reads back into the same Window.
func (w *Window) UnmarshalText(b []byte) error {
	v, err := ParseWindow(string(b))
	if err != nil {
		return err
	}
	*w = v
	return nil
}

// String returns the window as it was written.
func (w Window) String() string { return w.Spec }
