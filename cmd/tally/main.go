// Command tally prices, holds and charges the credits of an AI image studio.
// Run `tally --help` for the subcommands; each lives in its own file here.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Main{Stdout: os.Stdout, Stderr: os.Stderr}.Run(ctx, os.Args[1:]))
}
