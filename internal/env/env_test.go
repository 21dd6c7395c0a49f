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

func TestPairs(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		secret    bool
		want      [][2]string
		wantErr   string
	}{
		{"empty", " ", false, nil, ""},
		{"trimmed, in order", " b = 2 ,a=1,c=", false, [][2]string{{"b", "2"}, {"a", "1"}, {"c", ""}}, ""},
		{"value with =", "k=a=b", false, [][2]string{{"k", "a=b"}}, ""},
		{"no =", "a=1,b", false, nil, `invalid X="a=1,b": item 2 is not key=value`},
		{"no key", "=1", false, nil, `invalid X="=1": item 1 is not key=value`},
		{"empty item", "a=1,,b=2", false, nil, `invalid X="a=1,,b=2": item 2 of the comma-separated list is empty`},
		{"secret hidden", "k=hunter2,x", true, nil, `invalid X=(hidden): item 2 is not key=value`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Pairs("X", tc.raw, tc.secret)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || !errors.Is(err, ErrInvalid) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("Pairs = %q, %v; want %q", got, err, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("pair %d = %q, want %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestJoinMatchesKind(t *testing.T) {
	kind := errors.New("pkg: invalid configuration")
	if Join(kind, nil, nil) != nil {
		t.Fatal("Join of no error is not nil")
	}
	a, b := Errorf("A", "1", "bad"), Errorf("B", "2", "worse")
	err := Join(kind, a, nil, b)
	if !errors.Is(err, kind) || !errors.Is(err, ErrInvalid) {
		t.Errorf("%v does not match both the kind and ErrInvalid", err)
	}
	if want := errors.Join(a, b).Error(); err.Error() != want {
		t.Errorf("text %q, want %q", err, want)
	}
	var e *Error
	if !errors.As(err, &e) || e != a {
		t.Errorf("errors.As does not reach the first *Error")
	}
}
