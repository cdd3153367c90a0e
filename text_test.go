package strata_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/strata-dev/strata"
)

func TestCheckTextAllowsWhatPeopleWriteAndRefusesControlCharacters(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  string // "" when the text is fine
	}{
		{"plain words are fine", "incident 42: payments down", ""},
		{"tabs and newlines are fine", "line one\n\tline two", ""},
		{"accents, scripts and emoji are fine", "déploiement gelé — 障害 🚒 👩‍🚒", ""},
		{"quotes, backslashes and shell syntax are only text", `"$(rm -rf /)" \x00 ${config.X}`, ""},
		{"a NUL is refused", "stop\x00here", "character 5 is U+0000 (NUL, a control character)"},
		{"an escape sequence is refused", "ok \x1b[2J", "character 4 is U+001B (ESC, a control character)"},
		{"a carriage return is refused", "a\r\nb", "character 2 is U+000D (carriage return, a control character)"},
		{"DEL is refused", "a\x7f", "character 2 is U+007F (DEL, a control character)"},
		{"a C1 control is refused", "a\u0085b", "character 2 is U+0085 (a control character)"},
		{"a right-to-left override is refused", "admin\u202Egnp.exe", "character 6 is U+202E (a character that reverses how text is displayed)"},
		{"bytes that are not UTF-8 are refused", "ok\xff", "byte 3 is 0xFF, which is not UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := strata.CheckText("--reason", tc.in)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckText(%q) = %v, want nil", tc.in, err)
				}
				return
			}
			if got, want := strata.ErrorCode(err), strata.EINVALID; got != want {
				t.Fatalf("CheckText(%q) code = %q, want %q (err %v)", tc.in, got, want, err)
			}
			if got := err.Error(); !strings.HasPrefix(got, "--reason: ") || !strings.Contains(got, tc.wantErr) {
				t.Errorf("CheckText(%q) = %q, want it to name --reason and say %q", tc.in, got, tc.wantErr)
			}
			if strings.ContainsFunc(err.Error(), func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\u202E' }) {
				t.Errorf("the error %q holds the character it refuses", err)
			}
		})
	}
}

func TestCheckLineAllowsOnlyPrintableCharacters(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"a plain value is fine", "alice", true},
		{"spaces and punctuation are fine", "team: payments (eu)", true},
		{"letters of any script are fine", "ĳsbrand-日本", true},
		{"the empty string is fine (required-ness is the caller's)", "", true},
		{"a newline is refused", "alice\nbob", false},
		{"a tab is refused", "a\tb", false},
		{"a NUL is refused", "a\x00", false},
		{"an escape is refused", "\x1b]0;owned\a", false},
		{"a zero-width space is refused", "ad\u200Bmin", false},
		{"a no-break space is refused", "a\u00A0b", false},
		{"bytes that are not UTF-8 are refused", "\xc3\x28", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := strata.CheckLine("--label owner", tc.in)
			if got, want := err == nil, tc.ok; got != want {
				t.Fatalf("CheckLine(%q) = %v, want ok %v", tc.in, err, want)
			}
			if err != nil && strata.ErrorCode(err) != strata.EINVALID {
				t.Errorf("CheckLine(%q) code = %q, want invalid", tc.in, strata.ErrorCode(err))
			}
		})
	}
}

func TestPrintableEscapesWhatCheckTextRefuses(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"good text is unchanged", "a\tb\nc é", "a\tb\nc é"},
		{"a NUL and an escape become escapes", "a\x00b\x1b[2J", `a\x00b\x1b[2J`},
		{"a bidi override becomes an escape", "x\u202Ey", `x\u202ey`},
		{"a byte that is not UTF-8 becomes an escape", "a\xffb", `a\xffb`},
		{"a real replacement character stays", "a\uFFFDb\x00", "a\uFFFDb\\x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := strata.Printable(tc.in)
			if got != tc.want {
				t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if err := strata.CheckText("out", got); err != nil {
				t.Errorf("Printable(%q) = %q, which CheckText refuses: %v", tc.in, got, err)
			}
		})
	}
}

func TestAnEventWhoseDetailIsNotJSONStillEncodes(t *testing.T) {
	tests := []struct {
		name       string
		detail     string
		wantDetail string // the "detail" member, "" when absent
		wantRaw    string // the "detail_raw" member, "" when absent
	}{
		{"a JSON detail is written as it is", `{"reason":"x"}`, `{"reason":"x"}`, ""},
		{"no detail is left out", "", "", ""},
		// What an older `freeze` wrote for a reason with a NUL: %q, which is not JSON.
		{"a detail that is not JSON is kept as text", `{"reason":"a\x00b"}`, "", `{"reason":"a\x00b"}`},
		{"a detail with a raw NUL is kept as text", "{\"reason\":\"a\x00b\"}", "", "{\"reason\":\"a\x00b\"}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &strata.Event{Seq: 7, Actor: "carol", Action: "freeze", Environment: "dev", Detail: json.RawMessage(tc.detail), Hash: "h"}
			b, err := json.Marshal([]*strata.Event{e})
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var got []map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("the document is not JSON: %v\n%s", err, b)
			}
			detail, _ := json.Marshal(got[0]["detail"])
			if got[0]["detail"] == nil {
				detail = nil
			}
			raw, _ := got[0]["detail_raw"].(string)
			if string(detail) != tc.wantDetail || raw != tc.wantRaw {
				t.Errorf("detail %s, detail_raw %q; want %s and %q", detail, raw, tc.wantDetail, tc.wantRaw)
			}
			if got[0]["actor"] != "carol" || got[0]["seq"] != float64(7) {
				t.Errorf("the other fields were lost: %s", b)
			}
			var back []*strata.Event
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			var compact string
			if tc.wantRaw != "" || tc.detail == "" {
				compact = tc.detail
			} else {
				compact = tc.wantDetail
			}
			if got, want := string(back[0].Detail), compact; got != want {
				t.Errorf("read back detail %q, want %q", got, want)
			}
		})
	}
}

func TestCutTextEndsOnACharactersStart(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"text that fits is whole", "héllo", 6, "héllo"},
		{"a cut between characters keeps n bytes", "héllo", 4, "hél"},
		{"a cut inside a character drops the character", "héllo", 2, "h"},
		{"a cut at zero keeps nothing", "é", 0, ""},
		{"a cut inside a four-byte character drops it whole", "a😀b", 3, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strata.CutText(tt.s, tt.n); got != tt.want {
				t.Errorf("CutText(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
			}
		})
	}
}

func TestKeepRunOutputNeverEndsInsideACharacter(t *testing.T) {
	full := "x" + strings.Repeat("é", strata.RunOutputCap/2) // one byte over, ending a character's start
	tests := []struct {
		name   string
		output string
		cut    bool
		want   string
	}{
		{"output that fits is kept whole", "done\n", false, "done\n"},
		{"output over the cap is cut after a whole character", full, false, full[:strata.RunOutputCap-1] + strata.RunOutputCut},
		{"output an earlier cut split inside a character loses the split character",
			full[:strata.RunOutputCap], true, full[:strata.RunOutputCap-1] + strata.RunOutputCut},
		{"output cut before, whole, keeps what it has", "ab", true, "ab" + strata.RunOutputCut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strata.KeepRunOutput(tt.output, tt.cut)
			if got != tt.want || !utf8.ValidString(got) {
				t.Errorf("KeepRunOutput kept %d bytes ending %q (valid UTF-8: %v), want %d bytes ending %q",
					len(got), got[max(len(got)-50, 0):], utf8.ValidString(got), len(tt.want), tt.want[max(len(tt.want)-50, 0):])
			}
		})
	}
}
