package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
	"github.com/tally-credits/tally/internal/imagesize"
)

func (m Main) quoteCmd() *cobra.Command {
	var (
		req       httpapi.QuoteRequest
		input     string
		inputFile string
		prices    priceFlags
		asJSON    bool
		cheapest  bool
		kind      string
		images    int
	)
	cmd := &cobra.Command{
		Use:   "quote --model ID [flags]",
		Short: "Price a generation, exactly as POST /v1/quotes does",
		Long: "Prices one generation with the catalog tally serve would use: the one in use in the ledger (--db,\n" +
			"$TALLY_DB, or ./tally.db if it exists), else the --catalog file, else the built-in catalog.\n" +
			"No ledger is needed: without one, the built-in or --catalog file prices.",
		Example: `  tally quote --model "Nano Banana 2" --resolution 2K
  tally quote --model nano-banana-pro --resolution 4K --aspect 16:9 --images 3 --json
  tally quote --model topaz --scale 2 --input 1920x1080
  tally quote --model topaz --scale 4 --input-file photo.jpg`,
		Args: cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			req.Images = &images
			if cheapest {
				return m.cheapest(cmd.Context(), req, input, kind, &prices, asJSON)
			}
			q, err := quote(cmd.Context(), req, input, inputFile, &prices)
			if err != nil {
				if asJSON {
					writeJSON(m.Stdout, httpapi.ProblemFor(err, nil))
					fmt.Fprintf(m.Stderr, "tally: %s\n", oneLine(refusal(cmd.CommandPath(), err)))
					return silentError{exitCodeOf(err)}
				}
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewQuote(q))
				return nil
			}
			printQuote(m.Stdout, q)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Model, "model", "", "model id or display name (required)")
	f.StringVar(&req.Operation, "op", "", "operation: create or edit (image models; default create)")
	f.StringVar(&req.Resolution, "resolution", "", "resolution tier: 1K, 2K, 3K or 4K (default: the model's lowest)")
	f.StringVar(&req.AspectRatio, "aspect", "", "aspect ratio W:H (default 1:1)")
	f.IntVar(&images, "images", 1, "number of images")
	f.BoolVar(&req.PromptEnhancer, "enhance", false, "turn the prompt enhancer on")
	f.IntVar(&req.Scale, "scale", 0, "upscale factor, e.g. 2 (upscale models)")
	f.StringVar(&input, "input", "", "upscale input size WxH, e.g. 1920x1080")
	f.StringVar(&inputFile, "input-file", "", "upscale input image (PNG, JPEG, GIF, WebP); its header gives the size")
	prices.register(f)
	f.BoolVar(&cheapest, "cheapest", false, "instead of one model, list every model that accepts these settings, cheapest first")
	f.StringVar(&kind, "kind", "", "with --cheapest: only image, personalize, style_reference or upscale models")
	f.BoolVar(&asJSON, "json", false, "print the quote as POST /v1/quotes returns it (or the problem JSON on error)")
	return cmd
}

// cheapest prints every model that accepts the settings, cheapest first.
func (m Main) cheapest(ctx context.Context, req httpapi.QuoteRequest, input, kind string, prices *priceFlags, asJSON bool) error {
	c, err := prices.load(ctx)
	if err != nil {
		return err
	}
	cr := httpapi.CheapestRequest{
		Kind: credit.Kind(kind), Operation: req.Operation, Resolution: req.Resolution, AspectRatio: req.AspectRatio,
		Images: req.Images, PromptEnhancer: req.PromptEnhancer, Scale: req.Scale,
	}
	if input != "" {
		w, h, ok := parseSize(input)
		if !ok {
			return credit.Errorf(credit.Invalid, "invalid_input_size", "--input %q is not a size WxH such as 1920x1080", input)
		}
		cr.InputWidth, cr.InputHeight = w, h
	}
	switch cr.Kind {
	case "", credit.KindImage, credit.KindPersonalize, credit.KindStyleReference, credit.KindUpscale:
	default:
		e := credit.Errorf(credit.Invalid, "unknown_kind", "--kind %q is not a kind of model", kind)
		e.Allowed = []string{"image", "personalize", "style_reference", "upscale"}
		return e
	}
	qs, err := httpapi.Cheapest(c, cr)
	if err != nil {
		return err
	}
	if asJSON {
		writeJSON(m.Stdout, qs)
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 3, ' ', 0)
	for _, q := range qs.Quotes {
		fmt.Fprintf(tw, "%s\t%s credits\t%s\n", q.ModelName, q.TotalCredits, q.Lines[0].Label)
	}
	tw.Flush()
	fmt.Fprintf(m.Stdout, "%d model(s) accept these settings; catalog %s\n", len(qs.Quotes), qs.CatalogVersion)
	return nil
}

func exitCodeOf(err error) int {
	if credit.ErrorCode(err) == credit.Internal {
		return exitInternal
	}
	return exitInvalid
}

// quote prices one request from the command line's flags.
func quote(ctx context.Context, req httpapi.QuoteRequest, input, inputFile string, prices *priceFlags) (credit.Quote, error) {
	if req.Model == "" {
		return credit.Quote{}, credit.Errorf(credit.Invalid, "missing_model", "--model is required: a model id or display name")
	}
	c, err := prices.load(ctx)
	if err != nil {
		return credit.Quote{}, err
	}
	if input != "" {
		w, h, ok := parseSize(input)
		if !ok {
			return credit.Quote{}, credit.Errorf(credit.Invalid, "invalid_input_size", "--input %q is not a size WxH such as 1920x1080", input)
		}
		req.InputWidth, req.InputHeight = w, h
	}
	dreq, err := req.Domain(c)
	if err != nil {
		return credit.Quote{}, err
	}
	if inputFile != "" {
		size, err := readImageSize(inputFile)
		if err != nil {
			return credit.Quote{}, err
		}
		if err := httpapi.CheckInputAgrees(size, dreq.InputWidth, dreq.InputHeight); err != nil {
			return credit.Quote{}, err
		}
		dreq.InputWidth, dreq.InputHeight = size.Width, size.Height
	}
	return c.Quote(dreq)
}

func readImageSize(path string) (imagesize.Size, error) {
	f, err := os.Open(path)
	if err != nil {
		return imagesize.Size{}, credit.Errorf(credit.Invalid, "invalid_input_image", "cannot open --input-file: %v", err)
	}
	defer f.Close()
	return imagesize.Read(f)
}

// parseSize reads "1920x1080" (or 1920×1080, 1920X1080).
func parseSize(s string) (w, h int, ok bool) {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "×", "x"), "X", "x")
	ws, hs, found := strings.Cut(s, "x")
	if !found {
		return 0, 0, false
	}
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	return w, h, err1 == nil && err2 == nil
}

// printQuote writes a quote the way the Create button's tooltip reads.
func printQuote(w io.Writer, q credit.Quote) {
	head := []string{q.ModelName, string(q.Operation)}
	if q.Resolution != 0 {
		head = append(head, q.Resolution.String(), q.AspectRatio)
	}
	if q.InputWidth > 0 {
		head = append(head, fmt.Sprintf("input %d×%d", q.InputWidth, q.InputHeight))
	}
	if q.Width > 0 {
		head = append(head, fmt.Sprintf("output %d×%d px", q.Width, q.Height))
	}
	if q.PromptEnhancer {
		head = append(head, "prompt enhancer on")
	}
	fmt.Fprintln(w, strings.Join(head, " · "))
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, l := range q.Lines() {
		fmt.Fprintf(tw, "  %s\t%d × %s = %s\n", l.Label, l.Quantity, l.UnitCredits, l.Credits)
	}
	fmt.Fprintf(tw, "  Total\t%s credits\n", q.TotalCredits)
	tw.Flush()
	fmt.Fprintf(w, "catalog %s\n", q.CatalogVersion)
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
