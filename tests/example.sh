# tunnelgw: tunnelgw.conf.example is what the option table generates, so they cannot drift.
. "$(dirname "$0")/lib.sh"

"$GEN_EXAMPLE" >"$TG_TMP/generated.conf"
diff -u "$top_srcdir/tunnelgw.conf.example" "$TG_TMP/generated.conf" >"$TG_TMP/diff" ||
	fail "tunnelgw.conf.example differs from the option table (run make update-example): $(cat "$TG_TMP/diff")"
ok "tunnelgw.conf.example matches the option table"

# Every option line is preceded by a comment.
awk '/^[a-z_]+ = / { if (prev !~ /^#/) { print "no comment above " $1; bad = 1 } } { prev = $0 }
	END { exit bad }' "$top_srcdir/tunnelgw.conf.example" || fail "an option has no comment"
ok "every option in the example has a comment"

# The man page documents every option of the table.
for key in $(sed -n 's/^\([a-z_]*\) = .*;$/\1/p' "$TG_TMP/generated.conf"); do
	grep -q "^\.It Ic $key\$" "$top_srcdir/doc/tunnelgw.conf.5" ||
		fail "doc/tunnelgw.conf.5 does not document $key"
done
ok "tunnelgw.conf(5) documents every option"

done_testing
