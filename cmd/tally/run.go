package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// releaseVersion is set by release builds (-ldflags "-X
// main.releaseVersion=v1.2.3"); other builds take their version from the
// module's build info.
var releaseVersion string

// version is the build's version, as tally version, the server's logs and
// its headers name it.
var version = readBuildInfo().Version

// buildInfo is what `tally version` prints: which source this binary was
// built from, so that a report names an exact revision.
type buildInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// readBuildInfo reads the version the Go toolchain stamped into the binary:
// the module version (a tag, or a pseudo-version from the commit), and the
// version control revision, its time and whether the tree had changes.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: "devel", Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
		if b.Version == "devel" && b.Revision != "" {
			b.Version += "+" + b.Revision[:min(12, len(b.Revision))]
			if b.Modified {
				b.Version += "-dirty"
			}
		}
	}
	if releaseVersion != "" {
		b.Version = releaseVersion
	}
	return b
}

func (m Main) versionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, source revision and Go version this binary was built from",
		Args:  cobra.ExactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			b := readBuildInfo()
			if asJSON {
				writeJSON(m.Stdout, b)
				return nil
			}
			fmt.Fprintf(m.Stdout, "tally %s\n", b.Version)
			if b.Revision != "" {
				mod := ""
				if b.Modified {
					mod = ", with uncommitted changes"
				}
				fmt.Fprintf(m.Stdout, "revision %s (%s)%s\n", b.Revision, b.Time, mod)
			}
			fmt.Fprintf(m.Stdout, "built with %s\n", b.Go)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the build information as JSON")
	return cmd
}

// Exit codes. Scripts can tell a refused request from a broken tally.
const (
	exitOK       = 0
	exitInternal = 1 // tally or its environment failed
	exitInvalid  = 2 // bad flags or bad input: nothing was done
)

// Main runs the tally command line with its output streams; end-to-end tests
// run it in-process.
type Main struct {
	Stdout, Stderr io.Writer
}

// Run executes one command and returns its exit code. Errors are printed as a
// single line "tally: reason" on Stderr.
func (m Main) Run(ctx context.Context, args []string) int {
	started := false // set once cobra has parsed and validated the command line
	root := m.root()
	root.PersistentPreRun = func(*cobra.Command, []string) { started = true }
	root.SetArgs(args)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return flagError(err) })
	cmd, err := root.ExecuteContextC(credit.WithActor(ctx, cliActor()))
	var (
		sil silentError
		ve  *catalog.ValidationError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &sil):
		return sil.code
	case !started:
		// Cobra refused the command line: unknown command or flag, wrong arguments.
		fmt.Fprintf(m.Stderr, "tally: %s\n", oneLine(err.Error()))
		return exitInvalid
	case errors.As(err, &ve):
		fmt.Fprintln(m.Stderr, ve.Error())
		return exitInvalid
	case credit.ErrorCode(err) != credit.Internal && credit.ErrorCode(err) != credit.Unavailable:
		fmt.Fprintf(m.Stderr, "tally: %s\n", oneLine(refusal(cmd.CommandPath(), err)))
		return exitInvalid
	default:
		// The operator runs the CLI: an internal error's detail is theirs to see.
		fmt.Fprintf(m.Stderr, "tally: %s\n", oneLine(err.Error()))
		return exitInternal
	}
}

// silentError ends a command whose output already explains the failure (a
// problem JSON on stdout, a list of catalog issues).
type silentError struct{ code int }

func (s silentError) Error() string { return fmt.Sprintf("exit %d", s.code) }

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

func (m Main) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "tally",
		Short:         "The credit engine of a multi-model AI image studio",
		Long:          "tally prices every generation exactly, holds credits at Create, charges them once on delivery and shows where every credit went.",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(m.Stdout)
	root.SetErr(m.Stderr)
	root.AddCommand(m.serveCmd(), m.quoteCmd(), m.catalogCmd(), m.accountCmd(), m.teamCmd(), m.subscriptionCmd(), m.grantCmd(), m.keysCmd(), m.verifyCmd(), m.migrateCmd())
	root.AddCommand(m.eventsCmd(), m.webhookCmd(), m.topupCmd())
	root.AddCommand(m.generationCmd(), m.holdCmd(), m.reportCmd())
	root.AddCommand(m.benchCmd())
	root.AddCommand(m.backupCmd(), m.restoreCmd(), m.versionCmd())
	return root
}

// loadCatalog returns the catalog in FILE, or the built-in one.
func loadCatalog(path string) (*credit.Catalog, error) {
	if path == "" {
		return catalog.Default(), nil
	}
	return catalog.LoadFile(path)
}

// priceFlags choose the catalog that `tally quote` and `tally catalog show`
// price with, by the rule `tally serve` follows, so that the command line and
// the API answer alike: the catalog in use in the ledger (the newest
// published version whose effective_at has come), else the --catalog file,
// else the built-in catalog.
//
// The ledger is the one --db or $TALLY_DB names (it must exist), or else
// ./tally.db if there is one and no --catalog was given: a price lookup needs
// no ledger, and a --catalog file alone is priced as is, e.g. to try a draft
// before publishing it.
type priceFlags struct {
	file string
	sf   storeFlags
}

func (p *priceFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&p.file, "catalog", "", "price catalog YAML file (default: the built-in catalog); with --db, used only while the ledger has no published catalog in effect")
	p.sf.register(fs)
	fs.Lookup("db").Usage = "price with the catalog in use in this ledger, a SQLite file or a postgres:// URL (or $TALLY_DB; default ./tally.db if it exists and no --catalog is given)"
}

// load returns the catalog to price with now.
func (p *priceFlags) load(ctx context.Context) (*credit.Catalog, error) {
	ledger := p.sf.given()
	if !ledger && p.file == "" {
		fi, err := os.Stat(p.sf.db)
		ledger = err == nil && fi.Mode().IsRegular()
	}
	if ledger {
		cs, closeStore, err := p.sf.openCatalogs(ctx)
		if err != nil {
			return nil, err
		}
		defer closeStore()
		records, err := cs.Catalogs(ctx)
		if err != nil {
			return nil, err
		}
		if r, ok := catalog.InUse(catalog.Parsable(records), time.Now()); ok {
			return catalog.Parse(r.YAML)
		}
	}
	return loadCatalog(p.file)
}

// cliActor names the command line's user in the audit log: "cli:NAME", from
// the operating system's account.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	if n := os.Getenv("USER"); n != "" {
		return "cli:" + n
	}
	return "cli"
}
