package sqlfile

import (
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	script := `-- leads the first
create function f() returns text language sql as $$ select 'a;b' $$;
/* a ; in a block comment */ grant execute on function f() to "x;y";
create function g() returns int language plpgsql as $body$
begin
  return $1; -- a ; in a comment, $1 is no tag
end
$body$;
comment on function g() is 'it''s; fine';
-- trailing comment only
`
	got := Split(script)
	want := []string{
		"-- leads the first\ncreate function f() returns text language sql as $$ select 'a;b' $$;",
		"\n/* a ; in a block comment */ grant execute on function f() to \"x;y\";",
		"\ncreate function g() returns int language plpgsql as $body$\nbegin\n  return $1; -- a ; in a comment, $1 is no tag\nend\n$body$;",
		"\ncomment on function g() is 'it''s; fine';",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Split =\n%q\nwant\n%q", got, want)
	}
	if s := StripComments(got[0]); s != "create function f() returns text language sql as $$ select 'a;b' $$;" {
		t.Fatalf("StripComments = %q", s)
	}
	if got := Split("select 1"); !reflect.DeepEqual(got, []string{"select 1"}) {
		t.Fatalf("unterminated last statement: %q", got)
	}
}
