package env

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestErrorHidesSecrets(t *testing.T) {
	e := &Error{Var: "JWT_SECRET_KEY", Value: "hunter2", Reason: "too short", Secret: true}
	if strings.Contains(e.Error(), "hunter2") || !strings.Contains(e.Error(), "JWT_SECRET_KEY") {
		t.Errorf("%q", e.Error())
	}
	if !errors.Is(e, ErrInvalid) {
		t.Error("does not wrap ErrInvalid")
	}
}

func TestBool(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "TRUE": true, "1": true, "yes": true, "on": true, "false": false, "0": false, "Off": false, " no ": false} {
		got, err := Bool(Map(map[string]string{"X": in}), "X", !want)
		if err != nil || got != want {
			t.Errorf("Bool(%q) = %v, %v", in, got, err)
		}
	}
	if got, err := Bool(Map(nil), "X", true); !got || err != nil {
		t.Errorf("unset: %v %v", got, err)
	}
	if _, err := Bool(Map(map[string]string{"X": "2"}), "X", true); err == nil || err.Error() != `invalid X="2": want true or false` {
		t.Errorf("bad bool: %v", err)
	}
}

func TestList(t *testing.T) {
	got, err := List(Map(map[string]string{"X": " a , b,c "}), "X")
	if err != nil || strings.Join(got, "|") != "a|b|c" {
		t.Errorf("%q %v", got, err)
	}
	for _, bad := range []string{"a,", ",a", "a,,b", "a, ,b"} {
		if _, err := List(Map(map[string]string{"X": bad}), "X"); err == nil {
			t.Errorf("List(%q) accepted", bad)
		}
	}
}

func TestInt(t *testing.T) {
	if n, err := Int(Map(map[string]string{"X": "42"}), "X", 1, 0, 100); n != 42 || err != nil {
		t.Errorf("%d %v", n, err)
	}
	for _, bad := range []string{"-1", "101", "4x", "1e3"} {
		if _, err := Int(Map(map[string]string{"X": bad}), "X", 1, 0, 100); err == nil {
			t.Errorf("Int(%q) accepted", bad)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"", 5 * time.Second, false},
		{"90s", 90 * time.Second, false},
		{" 1m30s ", 90 * time.Second, false},
		{"0s", 0, false},
		{"30", 0, true}, // unit missing: seconds or milliseconds?
		{"-1s", 0, true},
		{"2h", 0, true},
		{"soon", 0, true},
	} {
		got, err := Duration(Map(map[string]string{"X": tc.in}), "X", 5*time.Second, 0, time.Hour)
		if tc.wantErr {
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `invalid X="`) {
				t.Errorf("Duration(%q) error %v, want one naming X", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Duration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}
