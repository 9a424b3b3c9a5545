# Shared by the CLI tests: count checks and print the closing tally.
pass=0
fail=0
check() { # description, status (0 = ok)
    if [ "$2" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi
}
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
