set -eu
umask 077
mkdir -p "$WORK_DIR/postgresql"
pg_dump -Fc -f "$WORK_DIR/postgresql/homeassistant.dump"
# Rows per table as the dump holds them, for the restore's check.
pg_restore --data-only -f "$WORK_DIR/postgresql/data.sql" "$WORK_DIR/postgresql/homeassistant.dump"
awk '/^COPY /{t=$0; sub(/^COPY /, "", t); sub(/ (\(.*\) )?FROM stdin;$/, "", t); n=0; on=1; next} on && /^\\\.$/{print t, n; on=0; next} on{n++}' "$WORK_DIR/postgresql/data.sql" >"$WORK_DIR/postgresql/rows.txt"
rm -f "$WORK_DIR/postgresql/data.sql"
