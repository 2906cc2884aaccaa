package etags

import (
	"slices"
	"testing"
)

func TestSplit(t *testing.T) {
	for in, want := range map[string][]string{
		`W/"3"`:           {"3"},
		`"a", W/"b" ,"c"`: {"a", "b", "c"},
		` W/"12"`:         {"12"},
		`W/""`:            {""},
		`3`:               nil,
		`W/"3`:            nil,
		`W/"3" W/"4"`:     nil,
		"W/\"a b\"":       nil,
		`W/"1",`:          nil,
	} {
		got, ok := Split(in)
		if ok != (want != nil) || !slices.Equal(got, want) {
			t.Errorf("Split(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestVersion(t *testing.T) {
	for in, want := range map[string]int32{"1": 1, "2147483647": 2147483647, "0": 0, "01": 0, "-1": 0, "2147483648": 0, "x": 0, "": 0} {
		got, ok := Version(in)
		if got != want || ok != (want > 0) {
			t.Errorf("Version(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
}
