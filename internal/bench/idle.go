package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
)

// The idle scenario shows what accounts on the free program cost while
// nobody uses them: nothing. A day's free credits are written by the
// account's first charge of that day, a balance read shows them without
// writing, and the sweeper (Ledger.ExpireDue) only touches accounts with
// something due; so an account that never comes back is never written to,
// however many days pass. The scenario seeds idle accounts, moves a ledger's
// clock through simulated days, sweeping every simulated hour, and counts
// what reached the store, the journal entries and the database's size. A
// control account on the same program that comes back every day writes
// every day, in the same run.

// The idle scenario's sizes.
const (
	idleAccountsFull  = 1_000_000
	idleAccountsQuick = 20_000
	// idleDays is how many simulated days the idle accounts stay idle, and
	// then how many the control account comes back on.
	idleDays = 3
	// idleSeedChunk is how many accounts one Store.Write of the seeding
	// creates.
	idleSeedChunk = 1000
	// idleSample is how many idle accounts a round of balance reads reads;
	// idleReadEvery how many simulated hours apart the rounds are.
	idleSample    = 1000
	idleReadEvery = 6
)

// freeDaily is the free program's daily credits: 100 a day, as the studio's
// "Understanding Credits" page says; the built-in catalog's free program.
var freeDaily = credit.Whole(100)

// freeProgram is the plan id of the built-in catalog's free program.
const freeProgram = "free"

// idleZones are the idle accounts' time zones, in turn: their days end at
// five different instants, one of them half an hour off the others.
var idleZones = []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"}

// controlZone is the control account's time zone; it comes back at its
// local noon.
const controlZone = "Europe/Berlin"

// locations loads idleZones and controlZone, by name.
func locations() (map[string]*time.Location, error) {
	locs := map[string]*time.Location{}
	for _, z := range append(slices.Clone(idleZones), controlZone) {
		if err := credit.CheckTimeZone(z); err != nil {
			return nil, fmt.Errorf("bench: idle: %w", err)
		}
		loc, err := time.LoadLocation(z)
		if err != nil {
			return nil, fmt.Errorf("bench: idle: time zone %s: %w", z, err)
		}
		locs[z] = loc
	}
	return locs, nil
}

// idleConfig is one run of the idle scenario.
type idleConfig struct {
	store   credit.Store
	catalog *credit.Catalog
	// accounts idle accounts are seeded, prefix + "-" + 7 digits; the
	// control account is prefix + "-control".
	accounts int
	prefix   string
	// days of idleness, then days of the control.
	days int
	// start is the simulated clock's start, a UTC midnight, and the seeded
	// accounts' creation.
	start time.Time
	// size measures the store's size; nil: not measured.
	size func(context.Context) (storeSize, error)
	// settle, if set, runs once after the seeding, before the first
	// measurement of the size; settleNote says what it did.
	settle     func(context.Context) error
	settleNote string
	say        func(format string, args ...any)
}

// storeSize is a store's size: bytes on disk (whole pages) and the bytes
// of its rows (see sqliteSize, postgresSize), how each was measured, and
// more about it.
type storeSize struct {
	bytes, rows  int64
	how, rowsHow string
	extra        string
}

// storeCounts is what reached the store (see countingStore).
type storeCounts struct {
	writes, batches, idleBatches, updates int64
}

// journalCounts is the journal's length, and its entries on the idle
// accounts and on the control account.
type journalCounts struct {
	total, idle, control int64
}

// mark is the store at one moment: what had reached it, its journal, its
// size.
type mark struct {
	counts  storeCounts
	journal journalCounts
	size    storeSize
}

// phase is what simulated days changed: the marks before and after them.
type phase struct{ before, after mark }

func (p phase) counts() storeCounts {
	a, b := p.after.counts, p.before.counts
	return storeCounts{a.writes - b.writes, a.batches - b.batches, a.idleBatches - b.idleBatches, a.updates - b.updates}
}

func (p phase) entries() journalCounts {
	a, b := p.after.journal, p.before.journal
	return journalCounts{a.total - b.total, a.idle - b.idle, a.control - b.control}
}

// growth is how much the store grew: on disk, and its rows.
func (p phase) growth() (disk, rows int64) {
	return p.after.size.bytes - p.before.size.bytes, p.after.size.rows - p.before.size.rows
}

// idleOutcome is what a run of the idle scenario measured.
type idleOutcome struct {
	accounts, days int
	seedTime       time.Duration
	seedWrites     int
	settled        string // what was done after the seeding to steady the size
	// idle is the idle days; control the control's (its opening before
	// them).
	idle, control phase
	idleTime      time.Duration   // the idle days' wall time, measurements included
	sweeps        []time.Duration // every ExpireDue of the idle days, in order
	swept         int             // accounts ExpireDue settled in the idle days
	controlSwept  int             // and in the control's
	reads         int             // balance reads of idle accounts in the idle days
	readWrites    int64           // Store.Write calls while they read
	readZones     []string        // the zones they covered
	generations   int             // the control's
	// run is the simulated ledger, at the end of the control's days.
	run *idleRun
}

// countingStore forwards everything to a store and counts what reaches it:
// each Store.Write call and its batches (those on idle accounts apart), and
// each Store.Update. It is the real store, not a stand-in for it.
type countingStore struct {
	credit.Store
	idle                                  func(account string) bool
	writes, batches, idleBatches, updates atomic.Int64
}

func (c *countingStore) Write(ctx context.Context, batches []*credit.Batch) error {
	c.writes.Add(1)
	c.batches.Add(int64(len(batches)))
	for _, b := range batches {
		if c.idle(b.Account) {
			c.idleBatches.Add(1)
		}
	}
	return c.Store.Write(ctx, batches)
}

func (c *countingStore) Update(ctx context.Context, fn func(credit.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, fn)
}

func (c *countingStore) counts() storeCounts {
	return storeCounts{c.writes.Load(), c.batches.Load(), c.idleBatches.Load(), c.updates.Load()}
}

// idleRun is a run of the idle scenario under way: a ledger with a
// simulated clock on the counting decorator of cfg.store.
type idleRun struct {
	cfg     idleConfig
	locs    map[string]*time.Location
	control string
	store   *countingStore
	ledger  *credit.Ledger
	clock   atomic.Int64 // Unix nanoseconds
}

// id is idle account i's id.
func (r *idleRun) id(i int) string { return fmt.Sprintf("%s-%07d", r.cfg.prefix, i) }

// idle reports whether account is one of the idle accounts.
func (r *idleRun) idle(account string) bool {
	return strings.HasPrefix(account, r.cfg.prefix+"-") && account != r.control
}

func (r *idleRun) now() time.Time { return time.Unix(0, r.clock.Load()).UTC() }

// at sets the clock to h hours after the start.
func (r *idleRun) at(h int) { r.clock.Store(r.cfg.start.Add(time.Duration(h) * time.Hour).UnixNano()) }

// mark reads the store's mark now.
func (r *idleRun) mark(ctx context.Context) (mark, error) {
	m := mark{counts: r.store.counts()}
	var err error
	if m.journal, err = countJournal(ctx, r.cfg.store, r.idle, r.control); err != nil {
		return mark{}, err
	}
	if r.cfg.size != nil {
		if m.size, err = r.cfg.size(ctx); err != nil {
			return mark{}, err
		}
	}
	return m, nil
}

// sweep runs the sweeper once, and returns how many accounts it settled.
func (r *idleRun) sweep(ctx context.Context) (int, error) {
	n, err := r.ledger.ExpireDue(ctx)
	if err != nil {
		return 0, fmt.Errorf("bench: idle: sweep at %s: %w", r.now().Format(time.RFC3339), err)
	}
	return n, nil
}

// runIdle seeds cfg.accounts idle accounts on the free program, then runs a
// ledger with a simulated clock through cfg.days days of them idle, sweeping
// every hour and reading a sample's balances every idleReadEvery hours;
// then cfg.days more with a control account that generates once a day. It
// fails if a read shows other than the day's free credits; the counts are
// the caller's to judge.
func runIdle(ctx context.Context, cfg idleConfig) (*idleOutcome, error) {
	locs, err := locations()
	if err != nil {
		return nil, err
	}
	if p := cfg.catalog.Plan(freeProgram); p == nil || !p.Program {
		return nil, fmt.Errorf("bench: idle: the catalog has no %q program", freeProgram)
	}
	r := &idleRun{cfg: cfg, locs: locs, control: cfg.prefix + "-control"}
	r.store = &countingStore{Store: cfg.store, idle: r.idle}
	r.clock.Store(cfg.start.UnixNano())
	cat := cfg.catalog
	r.ledger = credit.NewLedger(r.store, credit.LedgerConfig{Now: r.now, Catalog: func() *credit.Catalog { return cat }})
	o := &idleOutcome{accounts: cfg.accounts, days: cfg.days, run: r}

	cfg.say("seeding %d idle accounts on the %s program, %d a Store.Write", cfg.accounts, freeProgram, idleSeedChunk)
	t0 := time.Now()
	if o.seedWrites, err = seedIdle(ctx, cfg.store, cfg.accounts, r.id, cfg.start, cfg.say); err != nil {
		return nil, err
	}
	o.seedTime = time.Since(t0)
	cfg.say("seeded %d idle accounts in %.1f s", cfg.accounts, o.seedTime.Seconds())
	if cfg.settle != nil {
		if err := cfg.settle(ctx); err != nil {
			return nil, fmt.Errorf("bench: idle: %w", err)
		}
		o.settled = cfg.settleNote
	}
	if err := r.idleDays(ctx, o); err != nil {
		return nil, err
	}
	if err := r.controlDays(ctx, o); err != nil {
		return nil, err
	}
	return o, nil
}

// idleDays runs the simulated days with nothing but idle accounts: the
// sweeper every hour, a round of balance reads every idleReadEvery hours.
func (r *idleRun) idleDays(ctx context.Context, o *idleOutcome) error {
	r.cfg.say("idle: %d simulated days, the sweeper every simulated hour", r.cfg.days)
	var err error
	if o.idle.before, err = r.mark(ctx); err != nil {
		return err
	}
	t0 := time.Now()
	n := r.cfg.accounts
	stride := max(1, n/min(idleSample, max(1, n/10)))
	zones := map[string]bool{}
	for h := 1; h <= r.cfg.days*24; h++ {
		r.at(h)
		t := time.Now()
		k, err := r.sweep(ctx)
		if err != nil {
			return err
		}
		o.sweeps = append(o.sweeps, time.Since(t))
		o.swept += k
		if h%idleReadEvery != 0 {
			continue
		}
		before := r.store.writes.Load()
		for i := 0; i < n; i += stride {
			// One zone further at each read: a stride that is a
			// multiple of the zones would read one zone only.
			j := min(n-1, i+(i/stride)%len(idleZones))
			zone, err := readIdle(ctx, r.ledger, r.locs, r.id(j), j)
			if err != nil {
				return err
			}
			zones[zone] = true
			o.reads++
		}
		o.readWrites += r.store.writes.Load() - before
	}
	o.idleTime = time.Since(t0)
	if o.idle.after, err = r.mark(ctx); err != nil {
		return err
	}
	for _, z := range idleZones {
		if zones[z] {
			o.readZones = append(o.readZones, z)
		}
	}
	return nil
}

// controlDays opens the control account and runs as many simulated days
// again, the sweeper every hour, the control account coming back at its
// local noon every day for one generation.
func (r *idleRun) controlDays(ctx context.Context, o *idleOutcome) error {
	hours := r.cfg.days * 24
	r.at(hours)
	if _, err := r.ledger.OpenAccount(ctx, nil, credit.AccountSpec{ID: r.control, Plan: freeProgram, TimeZone: controlZone}); err != nil {
		return fmt.Errorf("bench: idle: open the control account: %w", err)
	}
	if err := sameOverdraftGrant(ctx, r.cfg.store, r.control); err != nil {
		return err
	}
	r.cfg.say("control: %d simulated days, one generation a day on %s", r.cfg.days, r.control)
	var err error
	if o.control.before, err = r.mark(ctx); err != nil {
		return err
	}
	loc, last := r.locs[controlZone], ""
	for h := hours + 1; h <= 2*hours; h++ {
		r.at(h)
		local := r.now().In(loc)
		if day := local.Format(time.DateOnly); local.Hour() >= 12 && day != last {
			last = day
			if err := r.generate(ctx, day); err != nil {
				return err
			}
			o.generations++
		}
		k, err := r.sweep(ctx)
		if err != nil {
			return err
		}
		o.controlSwept += k
	}
	o.control.after, err = r.mark(ctx)
	return err
}

// generate runs the control's generation of the day, and checks what is
// left of the day's free credits.
func (r *idleRun) generate(ctx context.Context, day string) error {
	l := r.ledger
	g, err := l.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: r.control, Request: cycleRequest})
	if err == nil {
		_, err = l.CompleteGeneration(ctx, nil, g.ID, cycleImages)
	}
	if err != nil {
		return fmt.Errorf("bench: idle: the control's generation of %s: %w", day, err)
	}
	v, err := l.Account(ctx, r.control)
	if err != nil {
		return fmt.Errorf("bench: idle: the control account: %w", err)
	}
	if want := freeDaily - cyclePrice; v.Balances.Free != want || v.Available != want {
		return fmt.Errorf("bench: idle: the control account after its generation of %s: %s available, %s free; want %s of the day's %s free credits left",
			day, v.Available, v.Balances.Free, want, freeDaily)
	}
	return nil
}

// seedIdle creates accounts idle accounts, as Ledger.OpenAccount with plan
// "free" would (the account, and its overdraft grant at zero), without the
// audit record: idleSeedChunk accounts a Store.Write, each its own Batch
// whose Decide returns its Change. It returns the Store.Write calls, and
// says how far it got every 100 of them.
func seedIdle(ctx context.Context, store credit.Store, accounts int, ids func(int) string, at time.Time, say func(string, ...any)) (int, error) {
	writes := 0
	for start := 0; start < accounts; start += idleSeedChunk {
		if err := ctx.Err(); err != nil {
			return writes, err
		}
		batches := make([]*credit.Batch, 0, idleSeedChunk)
		for i := start; i < min(start+idleSeedChunk, accounts); i++ {
			id := ids(i)
			c := &credit.Change{
				NewAccount: &credit.Account{ID: id, CreatedAt: at, Plan: freeProgram, TimeZone: idleZones[i%len(idleZones)]},
				// The overdraft grant every account has, as OpenAccount
				// makes it.
				NewGrants: []credit.Grant{{ID: overdraftGrantID(id), Account: id, Source: credit.SourceOverdraft, Priority: math.MaxInt32, CreatedAt: at}},
			}
			batches = append(batches, &credit.Batch{Account: id, Writes: 1, Decide: func(s *credit.State) (*credit.Change, error) {
				if s.Account != nil {
					return nil, credit.Errorf(credit.Conflict, "account_exists", "account %q already exists", id)
				}
				return c, nil
			}})
		}
		if err := store.Write(ctx, batches); err != nil {
			return writes, fmt.Errorf("bench: seed idle accounts: %w", err)
		}
		if writes++; writes%100 == 0 {
			say("seeded %d of %d idle accounts", min(accounts, start+idleSeedChunk), accounts)
		}
	}
	return writes, nil
}

// overdraftGrantID is the id of an account's overdraft grant, as
// OpenAccount makes it: credit does not export the rule, so the seeding
// repeats it, and sameOverdraftGrant checks it against an account
// OpenAccount opened.
func overdraftGrantID(account string) string { return "ovd_" + account }

// sameOverdraftGrant checks that the overdraft grant OpenAccount gave
// account has the id the seeding gives idle accounts.
func sameOverdraftGrant(ctx context.Context, store credit.Store, account string) error {
	var grants []credit.Grant
	err := store.View(ctx, func(tx credit.Tx) error {
		var err error
		grants, err = tx.Grants(account)
		return err
	})
	if err != nil {
		return fmt.Errorf("bench: idle: the grants of %s: %w", account, err)
	}
	for _, g := range grants {
		if g.Source == credit.SourceOverdraft && g.ID == overdraftGrantID(account) && g.Priority == math.MaxInt32 {
			return nil
		}
	}
	return fmt.Errorf("bench: idle: OpenAccount gave %s no overdraft grant %q of priority MaxInt32 (%+v): the seeding's idle accounts are not as it makes them", account, overdraftGrantID(account), grants)
}

// readIdle reads idle account i's balance and checks that it shows the
// day's free credits, and nothing else, expiring at its next local
// midnight. It returns the account's zone.
func readIdle(ctx context.Context, l *credit.Ledger, locs map[string]*time.Location, id string, i int) (string, error) {
	v, err := l.Account(ctx, id)
	if err != nil {
		return "", fmt.Errorf("bench: idle: read %s: %w", id, err)
	}
	zone := idleZones[i%len(idleZones)]
	local := l.Now().In(locs[zone])
	midnight := time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, locs[zone]).UTC()
	var free []credit.Grant
	for _, g := range v.Grants {
		if g.Source == credit.SourceFree {
			free = append(free, g)
		}
	}
	if v.ActivePlan != freeProgram || v.TimeZone != zone || v.Available != freeDaily || v.Balances.Free != freeDaily || v.Held != 0 ||
		len(free) != 1 || !free[0].ExpiresAt.Equal(midnight) {
		return "", fmt.Errorf("bench: idle: %s (%s) at %s: plan %q, %s available, %s free, %s held, %d free grants; want plan %q, %s available and free expiring at %s",
			id, zone, l.Now().Format(time.RFC3339), v.ActivePlan, v.Available, v.Balances.Free, v.Held, len(free), freeProgram, freeDaily, midnight.Format(time.RFC3339))
	}
	return zone, nil
}

// countJournal reads the whole journal (Scanner.EachEntry) and counts its
// entries: all, on idle accounts, on the control account.
func countJournal(ctx context.Context, store credit.Store, idle func(string) bool, control string) (journalCounts, error) {
	var c journalCounts
	err := store.View(ctx, func(tx credit.Tx) error {
		sc, err := credit.Scan(tx)
		if err != nil {
			return err
		}
		return sc.EachEntry(func(e *credit.Entry) error {
			c.total++
			switch {
			case e.Account == control:
				c.control++
			case idle(e.Account):
				c.idle++
			}
			return nil
		})
	})
	if err != nil {
		return journalCounts{}, fmt.Errorf("bench: idle: read the journal: %w", err)
	}
	return c, nil
}

// sqliteSize measures a SQLite file on a read-only connection of its own:
// page_count × page_size, which counts what is committed in the WAL too;
// the payload of every row and index entry (the dbstat table), which grows
// with any row, where pages grow only when rows overflow them; and the sizes
// of the file and its WAL.
func sqliteSize(path string) func(context.Context) (storeSize, error) {
	return func(ctx context.Context) (storeSize, error) {
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: url.Values{"mode": {"ro"}, "_pragma": {"busy_timeout(10000)"}}.Encode()}
		db, err := sql.Open("sqlite", u.String())
		if err != nil {
			return storeSize{}, fmt.Errorf("bench: idle: open %s: %w", path, err)
		}
		defer db.Close()
		var z storeSize
		var pages, pageSize int64
		err = db.QueryRowContext(ctx, `SELECT p.page_count, s.page_size, (SELECT coalesce(sum(payload), 0) FROM dbstat) FROM pragma_page_count() p, pragma_page_size() s`).Scan(&pages, &pageSize, &z.rows)
		if err != nil {
			return storeSize{}, fmt.Errorf("bench: idle: the size of %s: %w", path, err)
		}
		files := func(suffix string) int64 {
			st, err := os.Stat(path + suffix)
			if err != nil {
				return 0
			}
			return st.Size()
		}
		z.bytes = pages * pageSize
		z.how, z.rowsHow = fmt.Sprintf("page_count × page_size (%d B)", pageSize), "dbstat's payload"
		z.extra = fmt.Sprintf("file %s B + WAL %s B", thousands(files("")), thousands(files("-wal")))
		return z, nil
	}
}

// ledgerTables are the tables (and their sizes with their indexes, TOAST,
// free space and visibility maps) of the schema that holds the store's
// schema_migrations, and the size of the whole database.
const ledgerTables = `SELECT n.nspname, c.relname, pg_total_relation_size(c.oid), pg_database_size(current_database())
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind IN ('r', 'p') AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass('schema_migrations'))`

// postgresSize measures the store's tables on PostgreSQL: the sum of their
// pg_total_relation_size, and the sum of their rows' sizes
// (pg_column_size of each row), which grows with any row, where a
// relation's size grows only when rows overflow its pages.
func postgresSize(dsn string) func(context.Context) (storeSize, error) {
	return func(ctx context.Context) (storeSize, error) {
		conn, err := pgx.Connect(ctx, plainDSN(dsn))
		if err != nil {
			return storeSize{}, fmt.Errorf("bench: idle: connect: %w", err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		rows, err := conn.Query(ctx, ledgerTables)
		if err != nil {
			return storeSize{}, fmt.Errorf("bench: idle: the tables' size: %w", err)
		}
		var z storeSize
		var tables []pgx.Identifier
		var database int64
		for rows.Next() {
			var schema, name string
			var size int64
			if err := rows.Scan(&schema, &name, &size, &database); err != nil {
				return storeSize{}, fmt.Errorf("bench: idle: the tables' size: %w", err)
			}
			tables = append(tables, pgx.Identifier{schema, name})
			z.bytes += size
		}
		if err := rows.Err(); err != nil {
			return storeSize{}, fmt.Errorf("bench: idle: the tables' size: %w", err)
		}
		for _, t := range tables {
			var n int64
			if err := conn.QueryRow(ctx, `SELECT coalesce(sum(pg_column_size(t.*)), 0)::int8 FROM `+t.Sanitize()+` t`).Scan(&n); err != nil {
				return storeSize{}, fmt.Errorf("bench: idle: the rows' size of %s: %w", t.Sanitize(), err)
			}
			z.rows += n
		}
		z.how, z.rowsHow = fmt.Sprintf("pg_total_relation_size of the %d ledger tables", len(tables)), "pg_column_size of every row"
		z.extra = fmt.Sprintf("pg_database_size %s B", thousands(database))
		return z, nil
	}
}

const postgresVacuumNote = "after seeding, VACUUM (ANALYZE) before the first measurement: the free space and visibility maps autovacuum adds to freshly loaded tables are not the idle days' growth"

// postgresVacuum runs VACUUM (ANALYZE) on the store's database: what
// autovacuum does to freshly loaded tables sooner or later, which adds
// their free space and visibility maps. Done before the first measurement,
// that growth is not counted as the idle days'.
func postgresVacuum(dsn string) func(context.Context) error {
	return func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, plainDSN(dsn))
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		if _, err := conn.Exec(ctx, `VACUUM (ANALYZE)`); err != nil {
			return fmt.Errorf("VACUUM (ANALYZE): %w", err)
		}
		return nil
	}
}

// idle runs the idle scenario. Its first rows are counts, not rates: each
// says in its notes what the idle accounts cost and what the control cost
// beside it, and its check holds the idle accounts to nothing and the control
// to something. idle/balance_read measures balance reads of idle accounts
// against a point read.
func (s *suite) idle(ctx context.Context) error {
	n := s.cfg.IdleAccounts
	if n <= 0 {
		n = idleAccountsFull
		if s.cfg.Quick {
			n = idleAccountsQuick
		}
	}
	cfg := idleConfig{
		store: s.cfg.Store, catalog: s.cfg.Catalog, accounts: n, prefix: s.accountPrefix("idle"), days: idleDays,
		// In the past, so that nothing the simulation writes is in the
		// future of the rest of the run, nor of the server's clock after.
		start: time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -(2*idleDays + 2)),
		say:   s.say,
	}
	switch s.cfg.StoreKind {
	case "sqlite":
		cfg.size = sqliteSize(s.cfg.SQLitePath)
	case "postgres":
		cfg.size, cfg.settle, cfg.settleNote = postgresSize(s.cfg.PostgresDSN), postgresVacuum(s.cfg.PostgresDSN), postgresVacuumNote
	}
	s.last = nil // no baseline round from before the seeding stands for after it
	o, err := runIdle(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.report.Results = append(s.report.Results, &Result{Name: "idle/writes_per_account_day", Clients: 1, Check: "failed: " + err.Error()})
		return nil
	}
	s.report.Results = append(s.report.Results, o.rows()...)
	return s.idleReads(ctx, o)
}

// rows are the idle scenario's rows of counts, each checked.
func (o *idleOutcome) rows() []*Result {
	accountDays, days := float64(o.accounts*o.days), float64(o.days)
	check := func(r *Result, fails ...string) *Result {
		fails = slices.DeleteFunc(fails, func(f string) bool { return f == "" })
		r.Clients, r.OK, r.Check = 1, len(fails) == 0, "ok"
		if !r.OK {
			r.Check = "failed: " + strings.Join(fails, "; ")
		}
		return r
	}
	unless := func(ok bool, format string, args ...any) string {
		if ok {
			return ""
		}
		return fmt.Sprintf(format, args...)
	}
	idle, control := o.idle.counts(), o.control.counts()
	writes := check(&Result{Name: "idle/writes_per_account_day", Notes: []string{
		fmt.Sprintf("idle: %s Store.Write calls a day per idle account (%d calls, %d batches on idle accounts, %d Store.Update, for %s accounts × %d simulated days; the sweeper settled %d accounts)",
			perDay(idle.idleBatches, accountDays), idle.writes, idle.idleBatches, idle.updates, thousands(int64(o.accounts)), o.days, o.swept),
		fmt.Sprintf("control: %s Store.Write calls a day (%d in %d days, %d generations: each day its first charge writes the day's free credits with its hold, then the capture, then the sweeper the expiry of the day's rest at its local midnight)",
			perDay(control.writes, days), control.writes, o.days, o.generations),
		fmt.Sprintf("seeded %s idle accounts on the free program (zones %s in turn) in %.1f s: %d Store.Write calls of %d accounts, each as OpenAccount makes it (with its overdraft grant at 0), without its audit record",
			thousands(int64(o.accounts)), strings.Join(idleZones, ", "), o.seedTime.Seconds(), o.seedWrites, idleSeedChunk),
		fmt.Sprintf("%d sweeps (Ledger.ExpireDue, one per simulated hour, across each zone's midnight %d times): median %s, max %s; the idle days took %.1f s, their rounds of reads included",
			len(o.sweeps), o.days, formatDuration(median(o.sweeps)), formatDuration(slices.Max(o.sweeps)), o.idleTime.Seconds()),
	}},
		unless(idle.writes == 0 && idle.updates == 0 && o.swept == 0, "the idle days wrote: %d Store.Write, %d Store.Update, %d accounts swept", idle.writes, idle.updates, o.swept),
		unless(control.idleBatches == 0, "the control's days wrote %d batches on idle accounts", control.idleBatches),
		unless(control.writes > 0 && o.generations == o.days, "the control wrote %d times with %d generations in %d days", control.writes, o.generations, o.days))
	ie, ce := o.idle.entries(), o.control.entries()
	entries := check(&Result{Name: "idle/entries", Notes: []string{
		fmt.Sprintf("idle: %d journal entries on idle accounts in %d days, %d in all (the whole journal read before and after: %s → %s entries)",
			ie.idle, o.days, ie.total, thousands(o.idle.before.journal.total), thousands(o.idle.after.journal.total)),
		fmt.Sprintf("control: %s entries a day (%d in %d days: the day's free credits, hold, capture, expiry of the rest)", perDay(ce.control, days), ce.control, o.days),
	}},
		unless(ie.total == 0, "the journal grew by %d entries in the idle days", ie.total),
		unless(ce.idle == 0, "the control's days wrote %d entries on idle accounts", ce.idle),
		unless(ce.control > 0, "the control wrote no entry"))
	rows := []*Result{writes, entries}
	z0, z1 := o.idle.before.size, o.idle.after.size
	if z0.how == "" {
		return append(rows, &Result{Name: "idle/bytes_growth", Clients: 1, Skipped: "the store's size is measured on SQLite and PostgreSQL only"})
	}
	disk, rowBytes := o.idle.growth()
	cdisk, crows := o.control.growth()
	bytes := check(&Result{Name: "idle/bytes_growth", Notes: []string{
		fmt.Sprintf("idle: %s B on disk and %s B of rows in %d days: on disk (%s) %s → %s B, rows (%s) %s → %s B; %s → %s",
			thousands(disk), thousands(rowBytes), o.days, z0.how, thousands(z0.bytes), thousands(z1.bytes),
			z0.rowsHow, thousands(z0.rows), thousands(z1.rows), z0.extra, z1.extra),
		fmt.Sprintf("control: %s B on disk and %s B of rows in %d days, %s B of rows a day (pages are added only when rows overflow them)",
			thousands(cdisk), thousands(crows), o.days, thousands(crows/int64(max(1, o.days)))),
	}},
		unless(disk == 0 && rowBytes == 0, "the store changed by %d B on disk, %d B of rows in the idle days", disk, rowBytes),
		unless(crows > 0, "the control's rows grew by %d B", crows))
	if o.settled != "" {
		bytes.Notes = append(bytes.Notes, o.settled)
	}
	return append(rows, bytes)
}

// idleReads measures balance reads (Ledger.Account) of idle accounts at
// random, on the simulated ledger, against a point read of one account row;
// every read must show the day's free credits, and none may write. Then it
// verifies the whole ledger.
func (s *suite) idleReads(ctx context.Context, o *idleOutcome) error {
	rngs := make([]*rand.Rand, s.cfg.Clients)
	for c := range rngs {
		rngs[c] = rand.New(rand.NewPCG(uint64(c), 0x1d1e))
	}
	run := o.run
	sc := Scenario{Name: "idle/balance_read", Op: func(ctx context.Context, c int) (int, error) {
		i := rngs[c].IntN(o.accounts)
		_, err := readIdle(ctx, run.ledger, run.locs, run.id(i), i)
		return 0, err
	}}
	before := mark{counts: run.store.counts()}
	r, err := s.measure(ctx, sc, s.options(), s.pointReadBaseline(run.id(0)), func(context.Context, *Result) error {
		if d := (phase{before, mark{counts: run.store.counts()}}).counts(); d.writes != 0 || d.updates != 0 {
			return fmt.Errorf("the reads wrote: %d Store.Write, %d Store.Update", d.writes, d.updates)
		}
		if o.readWrites != 0 {
			return fmt.Errorf("the idle days' rounds of reads wrote %d times", o.readWrites)
		}
		return nil
	})
	if err != nil {
		return err
	}
	rounds := max(1, o.days*24/idleReadEvery)
	r.Notes = append(r.Notes,
		fmt.Sprintf("op = Ledger.Account of an idle account at random: %s available, all of it the day's free credits (AccountView.Balances.Free), none of it written", freeDaily),
		fmt.Sprintf("in the idle days, %s reads (%d accounts every %d simulated hours, zones %s): each showed %s free credits expiring at its local midnight; %d Store.Write calls while they ran",
			thousands(int64(o.reads)), o.reads/rounds, idleReadEvery, strings.Join(o.readZones, ", "), freeDaily, o.readWrites))
	if !r.OK {
		return nil
	}
	s.say("verifying the ledger (%d idle accounts and more)", o.accounts)
	t0 := time.Now()
	if err := s.verify(ctx, &Result{}); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.OK, r.Check = false, "failed: "+err.Error()
		return nil
	}
	r.Notes = append(r.Notes, fmt.Sprintf("verify after: every invariant holds, the seeded accounts included (%.1f s, process peak RSS %s)", time.Since(t0).Seconds(), formatBytes(peakRSS())))
	return nil
}

// perDay formats n over days with two decimals; 0 as 0.
func perDay(n int64, days float64) string {
	switch {
	case days <= 0:
		return "?"
	case n == 0:
		return "0"
	}
	return fmt.Sprintf("%.2f", float64(n)/days)
}

// median returns the median of ds (0 for none).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
